// /personal/*: the profile ("handbook") and /personal/me (SPEC 5).
#include "api/pipeline.hpp"
#include "api/routes.hpp"
#include "api/validation.hpp"
#include "util/clock.hpp"

namespace sr::api {
namespace {

using http::Method;
using storage::Access;
using storage::Repository;

void write_handbook(json::Writer& w, const storage::Handbook& h) {
  w.begin_object()
      .kv("full_name", h.full_name)
      .kv("age", h.age)
      .kv("phone", h.phone)
      .kv("address", h.address)
      .kv("bio", h.bio)
      .kv("updated_at", rfc3339(h.updated_at))
      .end_object();
}

Task<http::Response> me(Call& call) {
  storage::ReadBatch b;
  b.want.user = b.want.handbook = true;
  co_await call.read(b);
  const auto& u = b.user;
  const auto& h = b.handbook;
  if (!u) throw ApiError(ErrorCode::token_revoked, "Session has been revoked");
  json::Writer w;
  w.begin_object()
      .kv("id", u->id)
      .kv("username", u->username)
      .kv("email", u->email)
      .kv("created_at", rfc3339(u->created_at))
      .key("handbook");
  if (h)
    write_handbook(w, *h);
  else
    w.value(nullptr);
  w.end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> get_handbook(Call& call) {
  storage::ReadBatch b;
  b.want.handbook = true;
  co_await call.read(b);
  const auto& h = b.handbook;
  if (!h) throw ApiError(ErrorCode::not_found, "No handbook yet");
  json::Writer w;
  write_handbook(w, *h);
  co_return call.respond(200, w.take());
}

Task<http::Response> put_handbook(Call& call) {
  static const json::Schema schema = [] {
    auto name = json::str("full_name", 0, 100, false);
    auto age = json::integer("age", 13, 120, false);
    auto phone = json::str("phone", 0, 20, false);
    phone.check = check_phone;
    auto address = json::str("address", 0, 255, false);
    auto bio = json::str("bio", 0, 2000, false);
    bio.single_line = false;  // multi-line allowed, NUL still refused
    for (auto* r : {&name, &age, &phone, &address, &bio}) r->nullable = true;
    return json::Schema{name, age, phone, address, bio};
  }();
  auto f = call.body(schema);
  storage::Handbook h;
  auto opt = [&](std::string_view k) -> std::optional<std::string> {
    if (auto v = f.str(k)) return std::string(*v);
    return std::nullopt;
  };
  h.full_name = opt("full_name");
  h.age = f.integer("age");
  h.phone = opt("phone");
  h.address = opt("address");
  h.bio = opt("bio");
  h.updated_at = now_unix();
  const int64_t uid = call.who().user_id;
  storage::Handbook stored;
  co_await call.ctx.db.run(Access::write, [&](Repository& r) { stored = r.put_handbook(uid, h); });
  json::Writer w;
  write_handbook(w, stored);
  co_return call.respond(200, w.take());
}

}  // namespace

void add_personal_routes(http::Router& r, Context& ctx) {
  r.add(Method::GET, "/personal/me", route(ctx, Gate::user, me));
  r.add(Method::GET, "/personal/handbook", route(ctx, Gate::user, get_handbook));
  r.add(Method::PUT, "/personal/handbook", route(ctx, Gate::user, put_handbook));
}

}  // namespace sr::api
