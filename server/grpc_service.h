// GrpcService: pagoda.v1.Pagoda on gRPC's callback API. Streaming and
// GenerateOnce calls get one reactor each (generate_reactor.h); the small
// methods answer inline on the gRPC callback thread. Stateless apart from the
// shared ServingContext, so any callback thread may enter any method.
#pragma once

#include <optional>
#include <string>

#include "pagoda/v1/pagoda.grpc.pb.h"
#include "server/serving_context.h"

namespace pagoda::server {

class GrpcService final : public v1::Pagoda::CallbackService {
 public:
  explicit GrpcService(ServingContext* ctx) : ctx_(ctx) {}

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(grpc::CallbackServerContext* context,
                                                           const v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* GenerateOnce(grpc::CallbackServerContext* context,
                                         const v1::GenerateRequest* request,
                                         v1::GenerateOnceResponse* response) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context, const v1::TokenizeRequest* request,
                                     v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* context,
                                       const v1::DetokenizeRequest* request,
                                       v1::DetokenizeResponse* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const v1::GetModelInfoRequest* request,
                                         v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* Abort(grpc::CallbackServerContext* context, const v1::AbortRequest* request,
                                  v1::AbortResponse* response) override;

 private:
  // The caller's tenant, or UNAUTHENTICATED.
  StatusOr<std::string> authenticate(grpc::CallbackServerContext* context) const;
  grpc::ServerUnaryReactor* finish_unary(grpc::CallbackServerContext* context, const char* route,
                                         const std::string& tenant, const Status& status);

  ServingContext* ctx_;
};

}  // namespace pagoda::server
