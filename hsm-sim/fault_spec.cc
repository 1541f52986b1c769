#include "hsm-sim/fault_spec.h"

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// clang-format off
// Every CKR_ name of the PKCS#11 v2.40 header.
#define STRONGROOM_CKR_NAMES(X)                                                \
  X(CKR_OK) X(CKR_CANCEL) X(CKR_HOST_MEMORY) X(CKR_SLOT_ID_INVALID)            \
  X(CKR_GENERAL_ERROR) X(CKR_FUNCTION_FAILED) X(CKR_ARGUMENTS_BAD)             \
  X(CKR_NO_EVENT) X(CKR_NEED_TO_CREATE_THREADS) X(CKR_CANT_LOCK)               \
  X(CKR_ATTRIBUTE_READ_ONLY) X(CKR_ATTRIBUTE_SENSITIVE)                        \
  X(CKR_ATTRIBUTE_TYPE_INVALID) X(CKR_ATTRIBUTE_VALUE_INVALID)                 \
  X(CKR_ACTION_PROHIBITED) X(CKR_DATA_INVALID) X(CKR_DATA_LEN_RANGE)           \
  X(CKR_DEVICE_ERROR) X(CKR_DEVICE_MEMORY) X(CKR_DEVICE_REMOVED)               \
  X(CKR_ENCRYPTED_DATA_INVALID) X(CKR_ENCRYPTED_DATA_LEN_RANGE)                \
  X(CKR_FUNCTION_CANCELED) X(CKR_FUNCTION_NOT_PARALLEL)                        \
  X(CKR_FUNCTION_NOT_SUPPORTED) X(CKR_KEY_HANDLE_INVALID)                      \
  X(CKR_KEY_SIZE_RANGE) X(CKR_KEY_TYPE_INCONSISTENT) X(CKR_KEY_NOT_NEEDED)     \
  X(CKR_KEY_CHANGED) X(CKR_KEY_NEEDED) X(CKR_KEY_INDIGESTIBLE)                 \
  X(CKR_KEY_FUNCTION_NOT_PERMITTED) X(CKR_KEY_NOT_WRAPPABLE)                   \
  X(CKR_KEY_UNEXTRACTABLE) X(CKR_MECHANISM_INVALID)                            \
  X(CKR_MECHANISM_PARAM_INVALID) X(CKR_OBJECT_HANDLE_INVALID)                  \
  X(CKR_OPERATION_ACTIVE) X(CKR_OPERATION_NOT_INITIALIZED)                     \
  X(CKR_PIN_INCORRECT) X(CKR_PIN_INVALID) X(CKR_PIN_LEN_RANGE)                 \
  X(CKR_PIN_EXPIRED) X(CKR_PIN_LOCKED) X(CKR_SESSION_CLOSED)                   \
  X(CKR_SESSION_COUNT) X(CKR_SESSION_HANDLE_INVALID)                           \
  X(CKR_SESSION_PARALLEL_NOT_SUPPORTED) X(CKR_SESSION_READ_ONLY)               \
  X(CKR_SESSION_EXISTS) X(CKR_SESSION_READ_ONLY_EXISTS)                        \
  X(CKR_SESSION_READ_WRITE_SO_EXISTS) X(CKR_SIGNATURE_INVALID)                 \
  X(CKR_SIGNATURE_LEN_RANGE) X(CKR_TEMPLATE_INCOMPLETE)                        \
  X(CKR_TEMPLATE_INCONSISTENT) X(CKR_TOKEN_NOT_PRESENT)                        \
  X(CKR_TOKEN_NOT_RECOGNIZED) X(CKR_TOKEN_WRITE_PROTECTED)                     \
  X(CKR_UNWRAPPING_KEY_SIZE_RANGE) X(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)     \
  X(CKR_USER_ALREADY_LOGGED_IN) X(CKR_USER_NOT_LOGGED_IN)                      \
  X(CKR_USER_PIN_NOT_INITIALIZED) X(CKR_USER_TYPE_INVALID)                     \
  X(CKR_USER_ANOTHER_ALREADY_LOGGED_IN) X(CKR_USER_TOO_MANY_TYPES)             \
  X(CKR_WRAPPED_KEY_INVALID) X(CKR_WRAPPED_KEY_LEN_RANGE)                      \
  X(CKR_WRAPPING_KEY_HANDLE_INVALID) X(CKR_WRAPPING_KEY_SIZE_RANGE)            \
  X(CKR_WRAPPING_KEY_TYPE_INCONSISTENT) X(CKR_RANDOM_SEED_NOT_SUPPORTED)       \
  X(CKR_RANDOM_NO_RNG) X(CKR_DOMAIN_PARAMS_INVALID) X(CKR_CURVE_NOT_SUPPORTED) \
  X(CKR_BUFFER_TOO_SMALL) X(CKR_SAVED_STATE_INVALID)                           \
  X(CKR_INFORMATION_SENSITIVE) X(CKR_STATE_UNSAVEABLE)                         \
  X(CKR_CRYPTOKI_NOT_INITIALIZED) X(CKR_CRYPTOKI_ALREADY_INITIALIZED)          \
  X(CKR_MUTEX_BAD) X(CKR_MUTEX_NOT_LOCKED) X(CKR_NEW_PIN_MODE) X(CKR_NEXT_OTP) \
  X(CKR_EXCEEDED_MAX_ITERATIONS) X(CKR_FIPS_SELF_TEST_FAILED)                  \
  X(CKR_LIBRARY_LOAD_FAILED) X(CKR_PIN_TOO_WEAK) X(CKR_PUBLIC_KEY_INVALID)     \
  X(CKR_FUNCTION_REJECTED) X(CKR_VENDOR_DEFINED)
// clang-format on

namespace strongroom::hsm_sim {
namespace {

constexpr std::array<std::string_view, kPkcs11FnCount> kFnNames = {
#define STRONGROOM_X_(name) #name,
    STRONGROOM_PKCS11_FUNCTIONS(STRONGROOM_X_)
#undef STRONGROOM_X_
};

struct CkrName {
  std::string_view name;
  CK_RV value;
};
constexpr CkrName kCkrNames[] = {
#define STRONGROOM_X_(name) {#name, name},
    STRONGROOM_CKR_NAMES(STRONGROOM_X_)
#undef STRONGROOM_X_
};

constexpr std::string_view kBlanks = " \t\r\v\f";

std::string_view Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(kBlanks);
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(kBlanks);
  return s.substr(begin, end - begin + 1);
}

std::vector<std::string_view> Tokens(std::string_view rule) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t begin = rule.find_first_not_of(kBlanks);
    if (begin == std::string_view::npos) break;
    rule.remove_prefix(begin);
    const size_t end = rule.find_first_of(kBlanks);
    out.push_back(rule.substr(0, end));
    if (end == std::string_view::npos) break;
    rule.remove_prefix(end);
  }
  return out;
}

// Parses all of `text` as an unsigned number in `base`.
std::optional<uint64_t> ParseUnsigned(std::string_view text, int base) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// CKR_NAME, 0xHEX or decimal.
std::optional<CK_RV> ParseRv(std::string_view text) {
  for (const CkrName& entry : kCkrNames) {
    if (entry.name == text) return entry.value;
  }
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    return ParseUnsigned(text.substr(2), 16);
  }
  return ParseUnsigned(text, 10);
}

// Parses one rule's tokens; on failure returns the reason, naming the token.
std::optional<std::string> ParseRule(const std::vector<std::string_view>& tok,
                                     FaultRule& rule) {
  auto quoted = [](std::string_view t) { return "'" + std::string(t) + "'"; };
  const std::string_view verb = tok[0];
  size_t next = 1;
  auto need = [&](size_t n, const char* what) -> std::optional<std::string> {
    if (tok.size() < next + n) {
      return "missing " + std::string(what) + " after " +
             quoted(tok[tok.size() - 1]);
    }
    return std::nullopt;
  };
  auto parse_fn = [&](std::string_view t) -> std::optional<std::string> {
    if (t == "*") {
      rule.any_fn = true;
      return std::nullopt;
    }
    const std::optional<Pkcs11Fn> fn = Pkcs11FnFromName(t);
    if (!fn) return "unknown function " + quoted(t);
    if (*fn == Pkcs11Fn::kC_GetFunctionList) {
      return "function " + quoted(t) + " cannot be faulted";
    }
    rule.fn = *fn;
    return std::nullopt;
  };

  if (verb == "fail" || verb == "fail_after") {
    rule.kind = FaultRule::Kind::kFail;
    if (verb == "fail_after") {
      if (auto e = need(1, "call count N")) return e;
      const std::optional<uint64_t> n = ParseUnsigned(tok[next], 10);
      if (!n) return "bad call count " + quoted(tok[next]);
      rule.pass_first = *n;
      ++next;
    }
    if (auto e = need(2, "function and return value")) return e;
    if (auto e = parse_fn(tok[next])) return e;
    const std::optional<CK_RV> rv = ParseRv(tok[next + 1]);
    if (!rv) return "unknown return value " + quoted(tok[next + 1]);
    if (*rv == CKR_OK)
      return "return value " + quoted(tok[next + 1]) + " is not a failure";
    rule.rv = *rv;
    next += 2;
    for (; next < tok.size(); ++next) {
      constexpr std::string_view kCount = "count=";
      if (tok[next] == "after_call") {
        rule.after_call = true;
        continue;
      }
      if (tok[next].substr(0, kCount.size()) != kCount) {
        return "unexpected token " + quoted(tok[next]);
      }
      const std::optional<uint64_t> n =
          ParseUnsigned(tok[next].substr(kCount.size()), 10);
      if (!n || *n == 0 || *n > static_cast<uint64_t>(INT64_MAX)) {
        return "bad count " + quoted(tok[next]) + " (want count=N, N >= 1)";
      }
      rule.remaining = static_cast<int64_t>(*n);
    }
    return std::nullopt;
  }
  if (verb == "latency_us") {
    rule.kind = FaultRule::Kind::kLatency;
    if (auto e = need(2, "function and microseconds")) return e;
    if (auto e = parse_fn(tok[next])) return e;
    const std::optional<uint64_t> us = ParseUnsigned(tok[next + 1], 10);
    // An hour is far beyond any useful test latency; refuse likely typos.
    if (!us || *us > 3'600'000'000ULL) {
      return "bad microseconds " + quoted(tok[next + 1]);
    }
    rule.latency_us = *us;
    if (tok.size() > next + 2) {
      return "unexpected token " + quoted(tok[next + 2]);
    }
    return std::nullopt;
  }
  return "unknown rule " + quoted(verb) +
         " (want fail, fail_after or latency_us)";
}

}  // namespace

std::string_view Pkcs11FnName(Pkcs11Fn fn) {
  const int i = static_cast<int>(fn);
  if (i < 0 || i >= kPkcs11FnCount) return "C_?";
  return kFnNames[i];
}

std::optional<Pkcs11Fn> Pkcs11FnFromName(std::string_view name) {
  for (int i = 0; i < kPkcs11FnCount; ++i) {
    if (kFnNames[i] == name) return static_cast<Pkcs11Fn>(i);
  }
  return std::nullopt;
}

bool ExcludedFromWildcard(Pkcs11Fn fn) {
  return fn == Pkcs11Fn::kC_GetFunctionList || fn == Pkcs11Fn::kC_Initialize ||
         fn == Pkcs11Fn::kC_Finalize || fn == Pkcs11Fn::kC_GetInfo;
}

ParsedFaultSpec ParseFaultSpec(std::string_view spec) {
  ParsedFaultSpec out;
  while (!spec.empty()) {
    const size_t eol = spec.find('\n');
    std::string_view line = spec.substr(0, eol);
    spec.remove_prefix(eol == std::string_view::npos ? spec.size() : eol + 1);
    line = line.substr(0, line.find('#'));
    while (true) {
      const size_t semi = line.find(';');
      const std::string_view text = Trim(line.substr(0, semi));
      if (!text.empty()) {
        FaultRule rule;
        if (std::optional<std::string> error = ParseRule(Tokens(text), rule)) {
          out.errors.push_back("bad fault rule '" + std::string(text) +
                               "': " + *error);
        } else {
          out.rules.push_back(rule);
        }
      }
      if (semi == std::string_view::npos) break;
      line.remove_prefix(semi + 1);
    }
  }
  return out;
}

}  // namespace strongroom::hsm_sim
