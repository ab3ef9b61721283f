// /social/links: social links (SPEC 6). Any id that is not the caller's answers 404.
#include "api/handlers.hpp"
#include "util/clock.hpp"

namespace sr::api::handlers {
namespace {

void write_link(json::Writer& w, const storage::SocialLink& l) {
  w.begin_object()
      .kv("id", l.id)
      .kv("platform", l.platform)
      .kv("url", l.url)
      .kv("created_at", rfc3339(l.created_at))
      .end_object();
}

services::Link link_of(const json::Fields& f) {
  return {std::string(*f.str("platform")), std::string(*f.str("url"))};
}

}  // namespace

Task<http::Response> list_links(Call& call) {
  json::Writer w;
  w.begin_object().key("links").begin_array();
  for (auto& l : call.rows.links) write_link(w, l);
  w.end_array().end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> add_link(Call& call) {
  const services::Link in = link_of(call.fields);
  const storage::SocialLink l = co_await call.ctx.profile.add_link(call, in);
  json::Writer w;
  write_link(w, l);
  co_return call.respond(201, w.take());
}

Task<http::Response> update_link(Call& call) {
  const services::Link in = link_of(call.fields);
  const storage::SocialLink l = co_await call.ctx.profile.update_link(call, call.id, in);
  json::Writer w;
  write_link(w, l);
  co_return call.respond(200, w.take());
}

Task<http::Response> remove_link(Call& call) {
  co_await call.ctx.profile.remove_link(call, call.id);
  co_return http::Response::no_content();
}

}  // namespace sr::api::handlers
