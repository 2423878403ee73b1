#pragma once
// The message of the exception a call throws, for tests that check what a diagnosis says.

#include <exception>
#include <functional>
#include <string>

namespace fxnn::testing_support {

/// The what() of the std::exception `f` throws; "" when it returns.
inline std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) { return e.what(); }
  return "";
}

} // namespace fxnn::testing_support
