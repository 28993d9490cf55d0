// http/handshake: the upgrade checks of PROTOCOL.md section 2 (first match wins) and the mapping
// of request paths to files under web_root, which must never leave it.
#include <gtest/gtest.h>

#include <boost/beast/http.hpp>

#include "http/handshake.hpp"

namespace http = parley::http;
namespace bhttp = boost::beast::http;

namespace {

bhttp::request_header<> upgrade_request() {
    bhttp::request_header<> req;
    req.method(bhttp::verb::get);
    req.target("/v1?key=x");
    req.version(11);
    req.set(bhttp::field::upgrade, "websocket");
    req.set(bhttp::field::connection, "keep-alive, Upgrade");
    req.set(bhttp::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    req.set(bhttp::field::sec_websocket_version, "13");
    return req;
}

}  // namespace

TEST(handshake, valid_upgrade_passes) {
    EXPECT_FALSE(http::check_upgrade(upgrade_request()).has_value());
    // RFC 6455 section 1.3 example.
    EXPECT_EQ(http::websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(handshake, refusals_in_the_order_of_section_2) {
    auto req = upgrade_request();
    req.method(bhttp::verb::post);
    req.set(bhttp::field::sec_websocket_version, "12");
    auto r = http::check_upgrade(req);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405u);
    EXPECT_EQ(r->header, bhttp::field::allow);

    req = upgrade_request();
    req.set(bhttp::field::upgrade, "h2c");
    r = http::check_upgrade(req);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 426u);
    EXPECT_EQ(r->header, bhttp::field::upgrade);

    req = upgrade_request();
    req.set(bhttp::field::sec_websocket_version, "8");
    r = http::check_upgrade(req);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 426u);
    EXPECT_EQ(r->header_value, "13");

    for (auto defect : {0, 1, 2, 3}) {
        req = upgrade_request();
        if (defect == 0) req.version(10);
        if (defect == 1) req.set(bhttp::field::connection, "close");
        if (defect == 2) req.set(bhttp::field::sec_websocket_key, "short==");
        if (defect == 3) req.set(bhttp::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ-_");
        r = http::check_upgrade(req);
        ASSERT_TRUE(r) << defect;
        EXPECT_EQ(r->status, 400u) << defect;
        EXPECT_EQ(r->code, "invalid_request");
    }
}

TEST(handshake, tokens_in_header_lists) {
    EXPECT_TRUE(http::has_token("Upgrade", "upgrade"));
    EXPECT_TRUE(http::has_token("keep-alive,\tUPGRADE ", "upgrade"));
    EXPECT_FALSE(http::has_token("upgrades", "upgrade"));
    EXPECT_FALSE(http::has_token("", "upgrade"));
    EXPECT_FALSE(http::has_token(",,", "upgrade"));
}

TEST(handshake, static_files_stay_under_the_root) {
    const std::string root = "/srv/web";
    EXPECT_EQ(http::static_file(root, "/")->string(), "/srv/web/index.html");
    EXPECT_EQ(http::static_file(root, "/chat.html")->string(), "/srv/web/chat.html");
    EXPECT_EQ(http::static_file(root, "/sdk/")->string(), "/srv/web/sdk/index.html");
    // Regression: "//etc/passwd" left "/etc/passwd" after the first '/', and joining an absolute
    // path to the root replaced the root: the file served was /etc/passwd.
    EXPECT_FALSE(http::static_file(root, "//etc/passwd"));
    EXPECT_FALSE(http::static_file(root, "///etc/passwd"));
    EXPECT_FALSE(http::static_file(root, "/../etc/passwd"));
    EXPECT_FALSE(http::static_file(root, "/a/../../etc/passwd"));
    EXPECT_FALSE(http::static_file(root, "/..\\etc"));
    EXPECT_FALSE(http::static_file(root, std::string_view("/a\0b", 4)));
    EXPECT_FALSE(http::static_file(root, "etc/passwd"));
    EXPECT_FALSE(http::static_file(root, ""));
    EXPECT_FALSE(http::static_file(root, "*"));
}
