#include "server/grpc_service.h"

#include <chrono>

#include "base/build_info.h"
#include "server/generate_reactor.h"
#include "server/grpc_conversion.h"
#include "server/logging.h"

namespace pagoda::server {
namespace {

// A streaming reactor that only reports an error.
class ErrorWriteReactor final : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  explicit ErrorWriteReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

StatusOr<std::string> GrpcService::authenticate(grpc::CallbackServerContext* context) const {
  const ApiKeys& keys = ctx_->api_keys();
  if (!keys.enabled()) return std::string("default");
  const auto& md = context->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return Status(StatusCode::kUnauthenticated,
                  "missing API key: send the metadata 'authorization: Bearer <key>'");
  }
  std::optional<std::string> tenant =
      keys.authenticate(std::string_view(it->second.data(), it->second.size()));
  if (!tenant) return Status(StatusCode::kUnauthenticated, "invalid API key");
  return *tenant;
}

grpc::ServerUnaryReactor* GrpcService::finish_unary(grpc::CallbackServerContext* context, const char* route,
                                                    const std::string& tenant, const Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status s = to_grpc_status(status);
  if (ctx_->metrics() != nullptr)
    ctx_->metrics()->count_call("grpc", route, grpc_code_name(s.error_code()), tenant);
  if (!status.ok()) {
    AccessRecord r;
    r.api = "grpc";
    r.route = route;
    r.tenant = tenant;
    r.peer = context->peer();
    r.grpc_code = grpc_code_name(s.error_code());
    r.error = status.message();
    log_access(r);
  }
  reactor->Finish(s);
  return reactor;
}

grpc::ServerWriteReactor<v1::GenerateResponse>* GrpcService::Generate(grpc::CallbackServerContext* context,
                                                                      const v1::GenerateRequest* request) {
  StatusOr<std::string> tenant = authenticate(context);
  if (!tenant.ok()) {
    grpc::Status s = to_grpc_status(tenant.status());
    if (ctx_->metrics() != nullptr)
      ctx_->metrics()->count_call("grpc", "Generate", grpc_code_name(s.error_code()), "");
    return new ErrorWriteReactor(s);
  }
  return GenerateReactor::start(ctx_, context, request, std::move(tenant).value());
}

grpc::ServerUnaryReactor* GrpcService::GenerateOnce(grpc::CallbackServerContext* context,
                                                    const v1::GenerateRequest* request,
                                                    v1::GenerateOnceResponse* response) {
  StatusOr<std::string> tenant = authenticate(context);
  if (!tenant.ok()) return finish_unary(context, "GenerateOnce", "", tenant.status());
  return GenerateOnceReactor::start(ctx_, context, request, response, std::move(tenant).value());
}

grpc::ServerUnaryReactor* GrpcService::Tokenize(grpc::CallbackServerContext* context,
                                                const v1::TokenizeRequest* request,
                                                v1::TokenizeResponse* response) {
  StatusOr<std::string> tenant = authenticate(context);
  if (!tenant.ok()) return finish_unary(context, "Tokenize", "", tenant.status());
  Status status = ctx_->check_ready();
  if (status.ok()) status = tokenize(*ctx_, *request, response);
  return finish_unary(context, "Tokenize", *tenant, status);
}

grpc::ServerUnaryReactor* GrpcService::Detokenize(grpc::CallbackServerContext* context,
                                                  const v1::DetokenizeRequest* request,
                                                  v1::DetokenizeResponse* response) {
  StatusOr<std::string> tenant = authenticate(context);
  if (!tenant.ok()) return finish_unary(context, "Detokenize", "", tenant.status());
  Status status = ctx_->check_ready();
  if (status.ok()) status = detokenize(*ctx_, *request, response);
  return finish_unary(context, "Detokenize", *tenant, status);
}

grpc::ServerUnaryReactor* GrpcService::GetModelInfo(grpc::CallbackServerContext* context,
                                                    const v1::GetModelInfoRequest* /*request*/,
                                                    v1::ModelInfo* response) {
  StatusOr<std::string> tenant = authenticate(context);
  if (!tenant.ok()) return finish_unary(context, "GetModelInfo", "", tenant.status());
  Status status = ctx_->check_ready();
  if (status.ok()) {
    const Engine& e = ctx_->engine();
    const ModelConfig& c = e.model_config();
    EngineStats s = e.stats();
    response->set_model(ctx_->model_name());
    response->set_architecture(c.architecture);
    response->set_hidden_size(c.hidden_size);
    response->set_num_hidden_layers(c.num_hidden_layers);
    response->set_num_attention_heads(c.num_attention_heads);
    response->set_num_key_value_heads(c.num_key_value_heads);
    response->set_head_dim(c.head_dim);
    response->set_intermediate_size(c.intermediate_size);
    response->set_vocab_size(c.vocab_size);
    response->set_max_model_len(e.max_model_len());
    response->set_tensor_parallel_size(e.tensor_parallel_size());
    response->set_backend(e.backend_name());
    response->set_block_size(s.block_size);
    response->set_num_blocks(s.num_blocks);
    response->set_num_free_blocks(s.num_free_blocks);
    response->set_num_running(s.num_running);
    response->set_num_waiting(s.num_waiting);
    response->set_version(std::string(build_info().version) + "+" + std::string(build_info().git_commit));
  }
  return finish_unary(context, "GetModelInfo", *tenant, status);
}

grpc::ServerUnaryReactor* GrpcService::Abort(grpc::CallbackServerContext* context,
                                             const v1::AbortRequest* request, v1::AbortResponse* response) {
  StatusOr<std::string> tenant = authenticate(context);
  if (!tenant.ok()) return finish_unary(context, "Abort", "", tenant.status());
  Status status = [&]() -> Status {
    if (!ctx_->has_engine()) return ctx_->check_ready();
    if (request->request_id().empty()) return invalid_argument("request_id: required");
    PAGODA_ASSIGN_OR_RETURN(int n, ctx_->registry().abort(request->request_id(), *tenant, ctx_->engine()));
    response->set_num_aborted(n);
    return ok_status();
  }();
  return finish_unary(context, "Abort", *tenant, status);
}

}  // namespace pagoda::server
