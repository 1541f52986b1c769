// How much more memory this process may take before its cgroup's memory
// limit would make the kernel reclaim to the bone and then OOM-kill it: in a
// container /proc/meminfo's MemAvailable describes the host, not the limit
// the container runs under, so the worker (which locks all its memory, see
// secret_stream.h) also checks the cgroups.
//
// Both hierarchies are read, whichever the kernel mounts (a process can sit
// under a cgroup v1 memory controller and a v2 unified tree at once): the
// process's cgroup in each (/proc/self/cgroup) is found under its mount
// (/proc/self/mountinfo), and it and every ancestor up to the mount's root
// that has a limit gives limit - (usage - inactive_file), at least 0
// (inactive_file: page cache charged to it that the kernel drops before
// failing a charge), the smallest of them all being the headroom:
//  - v2: the lower of memory.max and memory.high ("max" is none; past
//    memory.high the cgroup is throttled to reclaim, which locked memory
//    cannot give), memory.current, memory.stat's inactive_file;
//  - v1: memory.limit_in_bytes (2^62 and above is none: the kernel's
//    "unlimited" is PAGE_COUNTER_MAX pages), memory.usage_in_bytes,
//    memory.stat's total_inactive_file.
// A file that is missing or does not parse leaves its cgroup out (no
// bound from it), as an unknown MemAvailable does; so does a cgroup path
// with ".." (outside this cgroup namespace's root, not under the mount).
//
// Thread-safe (reads files only).
#ifndef STRONGROOM_WORKER_MEMORY_HEADROOM_H_
#define STRONGROOM_WORKER_MEMORY_HEADROOM_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace strongroom::worker {

// The headroom given the texts of /proc/self/cgroup and /proc/self/mountinfo
// (the cgroup files are read under the mount points named there); nullopt
// when no cgroup on the way sets a limit.
std::optional<uint64_t> CgroupMemoryHeadroom(absl::string_view proc_self_cgroup,
                                             absl::string_view proc_self_mountinfo);

// This process's (reads /proc/self/cgroup and /proc/self/mountinfo).
std::optional<uint64_t> CgroupMemoryHeadroom();

}  // namespace strongroom::worker

#endif  // STRONGROOM_WORKER_MEMORY_HEADROOM_H_
