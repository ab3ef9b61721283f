// /personal/*: the profile ("handbook") and /personal/me (SPEC 5).
#include "api/handlers.hpp"
#include "util/clock.hpp"

namespace sr::api::handlers {
namespace {

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

std::optional<std::string> opt(const json::Fields& f, std::string_view k) {
  if (auto v = f.str(k)) return std::string(*v);
  return std::nullopt;
}

}  // namespace

Task<http::Response> me(Call& call) {
  const services::Me m = call.ctx.profile.me(call.rows);
  json::Writer w;
  w.begin_object()
      .kv("id", m.user.id)
      .kv("username", m.user.username)
      .kv("email", m.user.email)
      .kv("created_at", rfc3339(m.user.created_at))
      .key("handbook");
  if (m.handbook)
    write_handbook(w, *m.handbook);
  else
    w.value(nullptr);
  w.end_object();
  co_return call.respond(200, w.take());
}

Task<http::Response> get_handbook(Call& call) {
  json::Writer w;
  write_handbook(w, call.ctx.profile.handbook(call.rows));
  co_return call.respond(200, w.take());
}

Task<http::Response> put_handbook(Call& call) {
  const auto& f = call.fields;
  storage::Handbook h;
  h.full_name = opt(f, "full_name");
  h.age = f.integer("age");
  h.phone = opt(f, "phone");
  h.address = opt(f, "address");
  h.bio = opt(f, "bio");
  const storage::Handbook stored = co_await call.ctx.profile.put_handbook(call, std::move(h));
  json::Writer w;
  write_handbook(w, stored);
  co_return call.respond(200, w.take());
}

}  // namespace sr::api::handlers
