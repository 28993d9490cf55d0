// TLS for wss:// and https:// (OpenSSL 3): the server context loaded from the configured
// certificate and key. Connections run OpenSSL directly on their non-blocking socket, so the
// same read/write paths serve plain and TLS connections.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace parley::net {

class tls_context {
public:
    // Loads a PEM certificate chain and private key. Throws std::runtime_error with OpenSSL's
    // reason when they cannot be used.
    tls_context(const std::string& cert_file, const std::string& key_file);
    ~tls_context();
    tls_context(const tls_context&) = delete;
    tls_context& operator=(const tls_context&) = delete;

    // A new server-side SSL object for socket `fd` (never null; aborts only on allocation failure).
    SSL* make_ssl(int fd) const;

private:
    SSL_CTX* ctx_ = nullptr;
};

// The last OpenSSL error as text (for logs).
std::string tls_error_text();

}  // namespace parley::net
