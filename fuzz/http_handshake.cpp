// Fuzz target: the HTTP request head before the upgrade (Beast's request_parser with parleyd's
// limits, then http/handshake; PROTOCOL.md 2, RFC 6455 4.2.1). The input is fed to the parser
// in reads whose size the first byte picks, like a socket delivers it. Checks: parsing never
// crashes and respects the 64 KB head limit; the upgrade decision is one of the statuses of
// section 2 with its header; an accepted upgrade has a well-formed key; and a request path is
// only ever mapped to a file inside the web root.
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "check.hpp"
#include "http/handshake.hpp"

namespace {

namespace bhttp = boost::beast::http;
namespace http = parley::http;

constexpr std::size_t max_head = 64 * 1024;  // http_session.hpp: max_request_head
constexpr std::size_t max_body = 32768;      // max_request_body

// True when `file` is lexically inside `root` (no "..", no escape through an absolute part).
bool inside(const std::filesystem::path& file, const std::string& root) {
    std::string f = file.lexically_normal().string();
    return f.rfind(root + "/", 0) == 0 && f.find("/../") == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    const std::size_t chunk = (data[0] & 0x3F) + 1;
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(max_head);
    parser.body_limit(max_body);
    parser.eager(false);
    std::string buf;
    std::size_t pos = 0;
    boost::beast::error_code ec;
    while (!parser.is_header_done()) {
        if (pos >= in.size()) {
            return 0;  // incomplete head: the session would time out
        }
        std::size_t n = std::min(chunk, in.size() - pos);
        buf.append(in.substr(pos, n));
        pos += n;
        std::size_t used = parser.put(boost::asio::buffer(buf), ec);
        buf.erase(0, used);
        if (ec == bhttp::error::need_more) {
            ec = {};
            continue;
        }
        if (ec == bhttp::error::body_limit) {
            break;  // session: 413 after routing and authentication
        }
        if (ec) {
            return 0;  // 400 or 431
        }
    }
    FUZZ_CHECK(pos <= max_head + chunk);
    const auto& req = parser.get();

    std::string_view target = req.target();
    std::size_t q = target.find('?');
    std::string_view path = target.substr(0, q);

    // The upgrade decision (section 2, steps 1-3).
    if (auto refusal = http::check_upgrade(req)) {
        const unsigned s = refusal->status;
        FUZZ_CHECK(s == 405 || s == 426 || s == 400);
        FUZZ_CHECK(!refusal->code.empty() && !refusal->message.empty());
        FUZZ_CHECK(s == 400 || refusal->header != bhttp::field::unknown);
    } else {
        FUZZ_CHECK(req.method() == bhttp::verb::get && req.version() >= 11);
        std::string_view key = req[bhttp::field::sec_websocket_key];
        FUZZ_CHECK(http::valid_websocket_key(key));
        FUZZ_CHECK(http::websocket_accept(key).size() == 28);
    }
    (void)http::has_token(req[bhttp::field::connection], "upgrade");

    // Static files never come from outside the web root.
    const std::string root = "/srv/parley-web";
    if (auto file = http::static_file(root, path)) {
        FUZZ_CHECK(inside(*file, root));
    }
    return 0;
}
