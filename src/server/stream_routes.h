#pragma once
// Handlers of POST /api/generate (streamed) and POST /api/similarity (docs/EXPLAINER.md).
#include <httplib.h>

#include "session.h"

namespace layerlab::server {

void handle_generate(ModelSession& s, const httplib::Request& req, httplib::Response& res);
void handle_similarity(ModelSession& s, const httplib::Request& req, httplib::Response& res);

}  // namespace layerlab::server
