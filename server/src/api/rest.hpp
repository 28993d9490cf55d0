// The REST control plane under /v1/ (PROTOCOL.md section 17) and the per-source-IP limit on
// connection attempts (section 14.3).
#pragma once

#include <boost/asio/ip/address.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/http_session.hpp"

namespace parley::api {

// Handles a request whose path starts with /v1/ (not the WebSocket endpoint itself). Responds
// through session->write(), possibly later (after work on other shards).
void handle(std::shared_ptr<http::http_session> session, http::request_t& req, std::string_view path);

// Charges one connection attempt to `ip`. Returns the Retry-After seconds when the bucket is
// empty (the upgrade must be refused with 429), nullopt when the attempt may proceed.
std::optional<unsigned> connect_rate_check(shard::shard& s, const std::string& ip);

// The source IP of a request (section 2): the TCP peer, or — when the peer is a trusted proxy —
// the rightmost X-Forwarded-For address that is not a trusted proxy.
std::string client_address(shard::shard& s, const boost::asio::ip::address& peer,
                           std::string_view forwarded_for);

// True when `ip` is covered by one of `trusted` (addresses or CIDR ranges).
bool is_trusted(const boost::asio::ip::address& ip, const std::vector<std::string>& trusted);

}  // namespace parley::api
