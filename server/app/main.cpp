// parleyd: flags, configuration, logging and signals wired to the server. Nothing else.
#include <csignal>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "config/config.hpp"
#include "server/server.hpp"

#ifndef PARLEY_VERSION
#define PARLEY_VERSION "dev"
#endif
#ifndef PARLEY_DEFAULT_WEB_ROOT
#define PARLEY_DEFAULT_WEB_ROOT ""
#endif

namespace {

void print_embedded_banner(const parley::config::config& cfg, const std::string& host,
                           std::uint16_t port) {
    const std::string& key = cfg.apps.front().keys.front().id;
    std::string shown = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host;
    std::printf(
        "parleyd %s: no --config given, running the embedded development default\n"
        "  app:       dev\n"
        "  key:       %s  (publishable; every channel, every action)\n"
        "  websocket: ws://%s:%u/v1?key=%s\n",
        PARLEY_VERSION, key.c_str(), shown.c_str(), port, key.c_str());
    if (!cfg.server.web_root.empty()) {
        std::printf("  demo:      http://%s:%u/\n", shown.c_str(), port);
        std::printf("  call:      http://%s:%u/call.html  (video call: open it in several tabs)\n",
                    shown.c_str(), port);
        std::printf("  chat:      http://%s:%u/chat.html  (chat with a live presence list)\n",
                    shown.c_str(), port);
    }
    std::printf(
        "  SDK:       new SignallingClient({ url: \"ws://%s:%u\", apiKey: \"%s\" })\n",
        shown.c_str(), port, key.c_str());
}

void print_new_keys(const std::string& type) {
    using parley::config::random_key_part;
    if (type != "secret") {
        std::printf(
            "# Publishable key: safe in web pages and apps (?key=). Narrow channels and actions, and\n"
            "# list the web origins allowed to use it.\n"
            "[[apps.keys]]\n"
            "type = \"publishable\"\n"
            "id = \"pk_live_%s\"\n"
            "channels = [\"**\"]\n"
            "actions = [\"subscribe\", \"publish\", \"presence\", \"send\"]\n"
            "allowed_origins = []\n",
            random_key_part().c_str());
    }
    if (type == "both") {
        std::printf("\n");
    }
    if (type != "publishable") {
        std::printf(
            "# Secret key pair: for your backend only (signs connection tokens, authenticates REST).\n"
            "[[apps.keys]]\n"
            "type = \"secret\"\n"
            "id = \"sk_id_%s\"\n"
            "secret = \"sk_secret_%s\"\n"
            "channels = [\"**\"]\n"
            "actions = [\"subscribe\", \"publish\", \"presence\", \"send\"]\n",
            random_key_part().c_str(), random_key_part().c_str());
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);

    CLI::App app{"parleyd: self-hostable realtime messaging server"};
    app.set_version_flag("--version", PARLEY_VERSION);
    std::string config_path;
    std::string listen;
    int threads = -1;
    std::string web_root;
    std::string log_level;
    app.add_option("-c,--config", config_path, "TOML configuration file (default: embedded development setup)");
    app.add_option("-l,--listen", listen, "HOST:PORT to listen on (port 0 picks a free port)");
    app.add_option("-t,--threads", threads, "event-loop threads (0 = number of cores)")->check(CLI::Range(0, 64));
    app.add_option("--web-root", web_root, "directory of the web pages to serve (\"\" = none)");
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
    auto* keys = app.add_subcommand("keys", "Key management");
    auto* keys_new = keys->add_subcommand("new", "Print a fresh key block to paste into the configuration");
    std::string key_type = "both";
    keys_new->add_option("--type", key_type, "publishable, secret or both")
        ->check(CLI::IsMember({"publishable", "secret", "both"}));
    keys->require_subcommand(1);
    CLI11_PARSE(app, argc, argv);

    if (keys_new->parsed()) {
        print_new_keys(key_type);
        return 0;
    }

    auto logger = spdlog::stderr_color_mt("parleyd");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

    // Loads the configuration and applies the flags, which win over the file and the
    // environment. Used at start and again on every SIGHUP.
    auto load = [&]() {
        auto c = config_path.empty() ? parley::config::embedded_default()
                                     : parley::config::load_file(config_path);
        if (!listen.empty()) {
            parley::config::set_listen(c->server, listen);
        }
        if (threads >= 0) {
            c->server.threads = static_cast<unsigned>(threads);
        }
        if (app.count("--web-root") > 0) {
            c->server.web_root = web_root;
        } else if (c->server.web_root.empty() && c->embedded_default) {
            c->server.web_root = PARLEY_DEFAULT_WEB_ROOT;
        }
        if (!log_level.empty()) {
            c->server.log_level = log_level;
        }
        return c;
    };
    std::shared_ptr<parley::config::config> cfg;
    try {
        cfg = load();
    } catch (const parley::config::config_error& e) {
        std::cerr << "parleyd: configuration error: " << e.what() << "\n";
        return 2;
    }
    spdlog::set_level(spdlog::level::from_str(cfg->server.log_level));

    try {
        parley::server::server srv(cfg);
        if (!config_path.empty()) {
            srv.set_reloader(load);
        }
        std::uint16_t port = srv.bind();
        if (cfg->embedded_default) {
            print_embedded_banner(*cfg, cfg->server.listen_host, port);
        }
        std::printf("listening on %s:%u\n", cfg->server.listen_host.c_str(), port);
        std::fflush(stdout);
        spdlog::info("parleyd {} listening on {}:{} with {} thread(s), {} app(s)", PARLEY_VERSION,
                     cfg->server.listen_host, port, srv.shard_count(), cfg->apps.size());
        return srv.run();
    } catch (const parley::config::config_error& e) {
        std::cerr << "parleyd: configuration error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "parleyd: " << e.what() << "\n";
        return 1;
    }
}
