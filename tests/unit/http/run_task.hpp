// Runs a coroutine to completion on a private io_context (tests only).
#pragma once
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>

#include "util/task.hpp"

namespace sr::test {
template <class T>
T run_task(Task<T> t) {
  boost::asio::io_context ioc;
  std::optional<T> out;
  std::exception_ptr err;
  boost::asio::co_spawn(ioc, std::move(t), [&](std::exception_ptr e, T v) {
    err = e;
    if (!e) out.emplace(std::move(v));
  });
  ioc.run();
  if (err) std::rethrow_exception(err);
  return std::move(*out);
}
}  // namespace sr::test
