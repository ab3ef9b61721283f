// The one Asio name that services and storage see: the coroutine type they return.
// Everything else about the network stays inside src/http.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <utility>

namespace sr {
template <class T = void>
using Task = boost::asio::awaitable<T>;
}  // namespace sr
