#include "server/server.h"

#include <csignal>
#include <ctime>
#include <filesystem>
#include <future>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include "engine/engine_loader.h"
#include "server/grpc_service.h"
#include "server/http_server.h"
#include "server/logging.h"
#include "server/metrics.h"
#include "server/serving_context.h"
#include "server/tls_config.h"

namespace pagoda::server {

namespace fs = std::filesystem;

struct Server::Impl {
  ServeOptions options;
  TlsConfig tls;
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<ServingContext> ctx;
  std::unique_ptr<GrpcService> grpc_service;
  std::unique_ptr<grpc::Server> grpc_server;
  std::unique_ptr<HttpServer> http_server;
  std::unique_ptr<Engine> engine;
  std::string model_name;
  bool shut_down = false;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  shutdown(std::chrono::milliseconds(0));
  // Front ends first (they hold pointers into the context), then the engine.
  impl_->http_server.reset();
  impl_->grpc_server.reset();
  impl_->grpc_service.reset();
  impl_->engine.reset();
}

StatusOr<std::unique_ptr<Server>> Server::create(ServeOptions options) {
  PAGODA_RETURN_IF_ERROR(options.validate());
  auto impl = std::make_unique<Impl>();
  PAGODA_ASSIGN_OR_RETURN(impl->tls, TlsConfig::load(options));
  ApiKeys keys;
  if (!options.api_key_file.empty()) {
    PAGODA_ASSIGN_OR_RETURN(keys, ApiKeys::from_file(options.api_key_file));
  } else if (!options.api_key_env.empty()) {
    if (const char* env = std::getenv(options.api_key_env.c_str()); env != nullptr && *env != '\0') {
      PAGODA_ASSIGN_OR_RETURN(keys, ApiKeys::from_list(env, "$" + options.api_key_env));
    }
  }
  std::string model_name = options.served_model_name;
  if (model_name.empty()) model_name = fs::path(options.model_dir).filename().string();
  if (model_name.empty()) model_name = fs::path(options.model_dir).parent_path().filename().string();
  impl->model_name = model_name;
  impl->metrics = std::make_unique<ServerMetrics>(model_name);
  impl->options = options;
  impl->ctx = std::make_unique<ServingContext>(std::move(options), std::move(keys), impl->metrics.get());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Engine& Server::engine() {
  return *impl_->engine;
}

ServingContext& Server::context() {
  return *impl_->ctx;
}

Status Server::start(const std::function<void(const std::string&)>& announce) {
  Impl& s = *impl_;
  const ServeOptions& o = s.options;
  set_access_log_enabled(o.access_log);
  if (!o.api_key_file.empty() || s.ctx->api_keys().enabled()) {
    log_line(LogLevel::kInfo, "API keys required", {{"keys", s.ctx->api_keys().size()}});
  }

  if (o.enable_metrics) {
    PAGODA_RETURN_IF_ERROR(s.metrics->start_exposer(o.host, o.metrics_port));
    metrics_port_ = s.metrics->port();
  }
  s.metrics->set_stats_source([ctx = s.ctx.get()]() -> std::optional<EngineStats> {
    if (!ctx->has_engine()) return std::nullopt;
    return ctx->engine().stats();
  });

  if (o.enable_grpc) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    s.grpc_service = std::make_unique<GrpcService>(s.ctx.get());
    grpc::ServerBuilder builder;
    builder.AddListeningPort(o.host + ":" + std::to_string(o.grpc_port), make_grpc_credentials(s.tls),
                             &grpc_port_);
    builder.RegisterService(s.grpc_service.get());
    builder.SetMaxReceiveMessageSize(static_cast<int>(o.limits.max_body_bytes));
    builder.SetMaxSendMessageSize(64 << 20);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, o.grpc_max_concurrent_streams);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, o.grpc_keepalive_time_ms);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, o.grpc_keepalive_timeout_ms);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
    grpc::ResourceQuota quota("pagoda");
    quota.SetMaxThreads(o.grpc_max_threads);
    builder.SetResourceQuota(quota);
    s.grpc_server = builder.BuildAndStart();
    if (s.grpc_server == nullptr || grpc_port_ == 0) {
      return unavailable("grpc listener on " + o.host + ":" + std::to_string(o.grpc_port) +
                         " could not be started");
    }
    s.grpc_server->GetHealthCheckService()->SetServingStatus(false);
  }
  if (o.enable_http) {
    s.http_server = std::make_unique<HttpServer>(s.ctx.get());
    PAGODA_RETURN_IF_ERROR(s.http_server->start(o.host, o.http_port, o.http_threads, s.tls));
    http_port_ = s.http_server->port();
  }
  std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  if (o.enable_grpc) announce("grpc listening on " + host + ":" + std::to_string(grpc_port_));
  if (o.enable_http) announce("http listening on " + host + ":" + std::to_string(http_port_));
  if (o.enable_metrics) announce("metrics listening on " + host + ":" + std::to_string(metrics_port_));

  auto t0 = std::chrono::steady_clock::now();
  PAGODA_RETURN_IF_ERROR(load_model());
  if (o.warmup) PAGODA_RETURN_IF_ERROR(warm_up());
  if (s.ctx->phase() == ServingPhase::kLoading) s.ctx->set_phase(ServingPhase::kReady);
  if (s.grpc_server) s.grpc_server->GetHealthCheckService()->SetServingStatus(true);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  KvCacheInfo kv = s.engine->kv_cache_info();
  log_line(LogLevel::kInfo, "ready",
           {{"model", s.ctx->model_name()},
            {"backend", s.engine->backend_name()},
            {"tp", s.engine->tensor_parallel_size()},
            {"max_model_len", s.engine->max_model_len()},
            {"kv_blocks", kv.num_blocks},
            {"block_size", kv.block_size},
            {"load_s", secs}});
  return ok_status();
}

Status Server::load_model() {
  Impl& s = *impl_;
  const ServeOptions& o = s.options;
  const EngineLoadOptions lo = o.engine_load_options();
  PAGODA_ASSIGN_OR_RETURN(LoadedEngine loaded, load_engine(lo));
  log_line(LogLevel::kInfo, "model loaded", {{"backend", loaded.backend_report}});
  if (!loaded.chat_template && !loaded.chat_template_error.ok()) {
    log_line(LogLevel::kWarn, "no chat template; /v1/chat/completions is disabled",
             {{"error", loaded.chat_template_error.message()}});
  }
  s.engine = std::move(loaded.engine);
  std::shared_ptr<const Tokenizer> shared_tokenizer = loaded.tokenizer;
  std::optional<ChatTemplate> chat_template = std::move(loaded.chat_template);
  s.ctx->attach(s.engine.get(), shared_tokenizer, std::move(chat_template), s.model_name);
  return ok_status();
}

Status Server::warm_up() {
  Impl& s = *impl_;
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> result = done->get_future();
  EngineRequest r;
  r.prompt_token_ids = s.ctx->tokenizer().encode("Hello");
  if (r.prompt_token_ids.empty()) r.prompt_token_ids = {0};
  r.sampling.temperature = 0.0;
  r.sampling.max_tokens = 2;
  r.sampling.ignore_eos = true;
  r.tenant = "warmup";
  StatusOr<RequestId> id = s.engine->submit(std::move(r), [done](StreamEvent e) {
    if (!e.finished) return;
    done->set_value(e.finish_reason == FinishReason::kError ? e.error : ok_status());
  });
  if (!id.ok()) return id.status().with_context("warm-up");
  if (result.wait_for(std::chrono::minutes(5)) != std::future_status::ready) {
    s.engine->cancel(*id);
    return internal_error("warm-up: no answer from the engine within 5 minutes");
  }
  return result.get().with_context("warm-up");
}

void Server::shutdown(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (s.shut_down) return;
  s.shut_down = true;
  auto t0 = std::chrono::steady_clock::now();
  ServingPhase before = s.ctx->phase();
  s.ctx->set_phase(ServingPhase::kDraining);
  if (s.grpc_server) s.grpc_server->GetHealthCheckService()->SetServingStatus(false);
  int in_flight = s.ctx->calls_in_flight();
  if (before != ServingPhase::kLoading || s.engine) {
    log_line(LogLevel::kInfo, "draining",
             {{"in_flight", in_flight}, {"timeout_s", timeout.count() / 1000.0}});
  }
  if (s.engine) s.engine->drain(timeout);
  // Every engine request has had its final event; give the front ends a moment to send them.
  bool idle = s.ctx->wait_until_idle(std::chrono::seconds(5));
  if (s.grpc_server) {
    s.grpc_server->GetHealthCheckService()->Shutdown();
    s.grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    s.grpc_server->Wait();
  }
  if (s.http_server) s.http_server->stop();
  s.ctx->set_phase(ServingPhase::kStopped);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log_line(LogLevel::kInfo, "stopped", {{"drain_s", secs}, {"clean", idle}});
}

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

namespace {

sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

int wait_for_termination_signal() {
  const sigset_t set = termination_signals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

StopCause wait_for_stop(const std::function<Status()>& health, std::chrono::milliseconds poll) {
  const sigset_t set = termination_signals();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(poll);
  const timespec period{static_cast<time_t>(secs.count()),
                        static_cast<long>(std::chrono::nanoseconds(poll - secs).count())};
  while (true) {
    const int sig = sigtimedwait(&set, nullptr, &period);
    if (sig > 0) return {sig, ok_status()};
    // A timeout (EAGAIN) or an unrelated signal (EINTR): look at the engine.
    if (Status h = health(); !h.ok()) return {0, h};
  }
}

}  // namespace pagoda::server
