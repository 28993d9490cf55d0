// TLS context; see tls.hpp.
#include "net/tls.hpp"

#include <openssl/err.h>

#include <cstdlib>
#include <stdexcept>

namespace parley::net {

std::string tls_error_text() {
    unsigned long e = ERR_get_error();
    if (e == 0) {
        return "unknown TLS error";
    }
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

tls_context::tls_context(const std::string& cert_file, const std::string& key_file) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (ctx_ == nullptr) {
        throw std::runtime_error("TLS: " + tls_error_text());
    }
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    // Partial and moved writes: the outbound queue re-gathers the same bytes on retry.
    // Released buffers: idle TLS connections keep no record buffers.
    SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx_, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx_, cert_file.c_str()) != 1) {
        std::string why = tls_error_text();
        SSL_CTX_free(ctx_);
        throw std::runtime_error("TLS: cannot load certificate " + cert_file + ": " + why);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx_) != 1) {
        std::string why = tls_error_text();
        SSL_CTX_free(ctx_);
        throw std::runtime_error("TLS: cannot use private key " + key_file + ": " + why);
    }
}

tls_context::~tls_context() { SSL_CTX_free(ctx_); }

SSL* tls_context::make_ssl(int fd) const {
    SSL* ssl = SSL_new(ctx_);
    if (ssl == nullptr) {
        std::abort();
    }
    SSL_set_fd(ssl, fd);
    SSL_set_accept_state(ssl);
    return ssl;
}

}  // namespace parley::net
