// /social/links: social links (SPEC 6). Any id that is not the caller's answers 404.
#include "api/pipeline.hpp"
#include "api/routes.hpp"
#include "api/validation.hpp"
#include "util/clock.hpp"

namespace sr::api {
namespace {

using http::Method;
using storage::Access;
using storage::Repository;

constexpr int64_t kMaxLinks = 50;

const json::Schema& link_schema() {
  static const json::Schema schema = [] {
    auto platform = json::str("platform", 1, 50, true);
    platform.check = check_platform;
    auto url = json::str("url", 1, 2048, true);
    url.check = check_url;
    return json::Schema{platform, url};
  }();
  return schema;
}

void write_link(json::Writer& w, const storage::SocialLink& l) {
  w.begin_object()
      .kv("id", l.id)
      .kv("platform", l.platform)
      .kv("url", l.url)
      .kv("created_at", rfc3339(l.created_at))
      .end_object();
}

Task<http::Response> list(Call& call) {
  storage::ReadBatch b;
  b.want.links = true;
  co_await call.read(b);
  json::Writer w;
  w.begin_object().key("links").begin_array();
  for (auto& l : b.links) write_link(w, l);
  w.end_array().end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> add(Call& call) {
  auto f = call.body(link_schema());
  const int64_t uid = call.who().user_id;
  std::string platform(*f.str("platform")), url(*f.str("url"));
  std::optional<storage::SocialLink> l;
  co_await call.ctx.db.run(Access::write, [&](Repository& r) {
    l = r.add_link(uid, platform, url, now_unix(), kMaxLinks);
  });
  if (!l) throw ApiError(ErrorCode::conflict, "At most 50 links per user");
  json::Writer w;
  write_link(w, *l);
  co_return call.respond(201, w.take());
}

Task<http::Response> update(Call& call) {
  const int64_t id = path_id(call.req.param("id"));
  auto f = call.body(link_schema());
  const int64_t uid = call.who().user_id;
  std::string platform(*f.str("platform")), url(*f.str("url"));
  std::optional<storage::SocialLink> l;
  co_await call.ctx.db.run(Access::write,
                           [&](Repository& r) { l = r.update_link(uid, id, platform, url); });
  if (!l) throw ApiError(ErrorCode::not_found, "Link not found");
  json::Writer w;
  write_link(w, *l);
  co_return call.respond(200, w.take());
}

Task<http::Response> remove(Call& call) {
  const int64_t id = path_id(call.req.param("id"));
  const int64_t uid = call.who().user_id;
  bool done = false;
  co_await call.ctx.db.run(Access::write, [&](Repository& r) { done = r.delete_link(uid, id); });
  if (!done) throw ApiError(ErrorCode::not_found, "Link not found");
  co_return http::Response::no_content();
}

}  // namespace

void add_social_routes(http::Router& r, Context& ctx) {
  r.add(Method::GET, "/social/links", route(ctx, Gate::user, list));
  r.add(Method::POST, "/social/links", route(ctx, Gate::user, add));
  r.add(Method::PUT, "/social/links/{id}", route(ctx, Gate::user, update));
  r.add(Method::DELETE_, "/social/links/{id}", route(ctx, Gate::user, remove));
}

}  // namespace sr::api
