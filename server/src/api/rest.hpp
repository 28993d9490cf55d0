// The REST control plane under /v1/ (PROTOCOL.md section 17) and the per-source-IP limit on
// connection attempts (section 14.3).
#pragma once

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string_view>

#include "http/http_session.hpp"

namespace parley::api {

// Handles a request whose path starts with /v1/ (not the WebSocket endpoint itself).
http::response_t handle(shard::shard& s, http::request_t& req, std::string_view path,
                        std::string_view query);

// Charges one connection attempt to `ip`. Returns the Retry-After seconds when the bucket is
// empty (the upgrade must be refused with 429), nullopt when the attempt may proceed.
std::optional<unsigned> connect_rate_check(shard::shard& s, const boost::asio::ip::address& ip);

}  // namespace parley::api
