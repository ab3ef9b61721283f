// The one Asio name that services and storage see: the coroutine type they return.
// Everything else about the network stays inside src/http.
#pragma once
// The size of Asio's per-thread frame cache is part of its per-thread state's layout: every
// translation unit must agree (CMakeLists.txt sets it for all targets; a hand build must too).
#if !defined(BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE) || BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE != 16
#error "build with -DBOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=16, as CMakeLists.txt does"
#endif
#include <boost/asio/awaitable.hpp>
#include <utility>

namespace sr {
template <class T = void>
using Task = boost::asio::awaitable<T>;
}  // namespace sr
