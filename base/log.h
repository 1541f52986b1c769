// Structured logging: one JSON object per line.
//
// A log event is a dotted event name plus typed fields. Fields take strings,
// integers, booleans and doubles only: SecretBytes has no conversion to a field,
// so key material cannot be logged by accident (and must never be hex-encoded
// into a string field by hand).
//
// Output goes to the installed sink (stderr by default). Tests install a
// capturing sink. Thread-safe: events may be logged from any thread; sinks are
// called under a mutex, one line at a time.
#ifndef STRONGROOM_BASE_LOG_H_
#define STRONGROOM_BASE_LOG_H_

#include "absl/strings/string_view.h"
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace strongroom {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

struct LogField {
  LogField(absl::string_view k, absl::string_view v) : key(k), value(std::string(v)) {}
  LogField(absl::string_view k, const char* v) : key(k), value(std::string(v)) {}
  LogField(absl::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(absl::string_view k, bool v) : key(k), value(v) {}
  LogField(absl::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(absl::string_view k, long v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(absl::string_view k, long long v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(absl::string_view k, unsigned v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(absl::string_view k, unsigned long v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(absl::string_view k, unsigned long long v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(absl::string_view k, double v) : key(k), value(v) {}

  std::string key;
  std::variant<std::string, int64_t, bool, double> value;
};

// Receives fully formatted JSON lines (without the trailing newline).
using LogSink = std::function<void(absl::string_view line)>;

// Replaces the sink; returns the previous one. An empty sink restores stderr.
LogSink SetLogSink(LogSink sink);
// Events below `level` are dropped. Default: kInfo.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();
// Parses "debug" | "info" | "warning" | "error".
bool ParseLogLevel(absl::string_view name, LogLevel* level);

// Formats and emits one event: {"ts":..., "level":..., "event":..., fields...}.
void Log(LogLevel level, absl::string_view event,
         std::initializer_list<LogField> fields = {});

inline void LogDebug(absl::string_view e, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kDebug, e, f);
}
inline void LogInfo(absl::string_view e, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, e, f);
}
inline void LogWarning(absl::string_view e, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarning, e, f);
}
inline void LogError(absl::string_view e, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, e, f);
}

}  // namespace strongroom

#endif  // STRONGROOM_BASE_LOG_H_
