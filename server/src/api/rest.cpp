// REST control plane; see rest.hpp.
#include "api/rest.hpp"

#include "shard/shard.hpp"

namespace parley::api {

http::response_t handle(shard::shard& s, http::request_t& req, std::string_view path,
                        std::string_view query) {
    return http::json_error(404, "not_found", "unknown route", req.version(), req.keep_alive());
}

std::optional<unsigned> connect_rate_check(shard::shard& s, const boost::asio::ip::address& ip) {
    return std::nullopt;
}

}  // namespace parley::api
