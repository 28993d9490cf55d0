// util/base64: RFC 4648 standard alphabet with padding (TURN credentials, section 16) and the
// URL-safe alphabet without padding (JWT segments, section 3.3).
#include <gtest/gtest.h>

#include <string>

#include "util/base64.hpp"

namespace base64 = parley::base64;

TEST(base64, rfc4648_vectors) {
    EXPECT_EQ(base64::encode(""), "");
    EXPECT_EQ(base64::encode("f"), "Zg==");
    EXPECT_EQ(base64::encode("fo"), "Zm8=");
    EXPECT_EQ(base64::encode("foo"), "Zm9v");
    EXPECT_EQ(base64::encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64::encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64::encode("foobar"), "Zm9vYmFy");
}

TEST(base64, url_vectors_without_padding) {
    EXPECT_EQ(base64::encode_url(""), "");
    EXPECT_EQ(base64::encode_url("f"), "Zg");
    EXPECT_EQ(base64::encode_url("fo"), "Zm8");
    EXPECT_EQ(base64::encode_url("foo"), "Zm9v");
    EXPECT_EQ(base64::encode_url("foob"), "Zm9vYg");
    EXPECT_EQ(base64::encode_url("fooba"), "Zm9vYmE");
    EXPECT_EQ(base64::encode_url("foobar"), "Zm9vYmFy");
}

TEST(base64, alphabets_differ_only_in_62_and_63) {
    const std::string bytes("\xfb\xff\xbf", 3);
    EXPECT_EQ(base64::encode(bytes), "+/+/");
    EXPECT_EQ(base64::encode_url(bytes), "-_-_");
    EXPECT_EQ(base64::encode(std::string("\xfb\xff", 2)), "+/8=");
    EXPECT_EQ(base64::encode_url(std::string("\xfb\xff", 2)), "-_8");
    EXPECT_EQ(base64::encode(std::string("\0\0\0", 3)), "AAAA");
}

TEST(base64, decode_url_vectors) {
    EXPECT_EQ(base64::decode_url(""), "");
    EXPECT_EQ(base64::decode_url("Zg"), "f");
    EXPECT_EQ(base64::decode_url("Zm8"), "fo");
    EXPECT_EQ(base64::decode_url("Zm9v"), "foo");
    EXPECT_EQ(base64::decode_url("Zm9vYg"), "foob");
    EXPECT_EQ(base64::decode_url("Zm9vYmE"), "fooba");
    EXPECT_EQ(base64::decode_url("Zm9vYmFy"), "foobar");
    EXPECT_EQ(base64::decode_url("-_-_"), std::string("\xfb\xff\xbf", 3));
    EXPECT_EQ(base64::decode_url("eyJhbGciOiJIUzI1NiIsImtpZCI6InNrX2lkX3Rlc3QiLCJ0eXAiOiJKV1QifQ"),
              R"({"alg":"HS256","kid":"sk_id_test","typ":"JWT"})");
}

TEST(base64, decode_url_round_trips_every_byte) {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    for (std::size_t n = 0; n <= all.size(); n += 1) {
        std::string s = all.substr(0, n);
        auto d = base64::decode_url(base64::encode_url(s));
        ASSERT_TRUE(d.has_value()) << n;
        EXPECT_EQ(*d, s) << n;
    }
}

TEST(base64, decode_url_rejects_invalid_input) {
    for (const char* t : {"Zg==", "Zg=", "Zm8=", "=", "Z", "Zm9vY", "+/8", "Zm9v+", "Zm/v",
                          "Zm 9v", "Zm9v\n", "Zm9v.", "Zm9\xc3\xa9", "Zm9v!", "\x01\x02"}) {
        EXPECT_FALSE(base64::decode_url(t).has_value()) << t;
    }
    EXPECT_FALSE(base64::decode_url(std::string("Zm\0v", 4)).has_value());
}

TEST(base64, turn_credential_of_appendix_b) {
    // The 20-byte HMAC-SHA1 of the Appendix B TURN vector encodes to its credential (standard
    // alphabet, padded).
    const unsigned char mac[20] = {0xea, 0xbf, 0x24, 0xd4, 0xcc, 0x82, 0xf1, 0xc0, 0xbe, 0xb0,
                                   0x8e, 0x96, 0x49, 0x0d, 0x1d, 0x96, 0xfb, 0xda, 0x64, 0x8e};
    EXPECT_EQ(base64::encode(std::string(reinterpret_cast<const char*>(mac), 20)),
              "6r8k1MyC8cC+sI6WSQ0dlvvaZI4=");
}
