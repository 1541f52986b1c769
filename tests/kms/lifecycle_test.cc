// Every legal and illegal lifecycle transition, driven through the public API
// against a real token and database. The expectations are written out here,
// independently of kms/lifecycle.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/kms/key_manager_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

enum class Op { kEnable, kSuspend, kDisable, kCompromise, kDestroy, kRestore };

const char* OpName(Op op) {
  switch (op) {
    case Op::kEnable: return "enable";
    case Op::kSuspend: return "suspend";
    case Op::kDisable: return "disable";
    case Op::kCompromise: return "compromise";
    case Op::kDestroy: return "destroy";
    case Op::kRestore: return "restore";
  }
  return "?";
}

struct Case {
  v1::KeyVersionState from;
  Op op;
  bool legal;
  v1::KeyVersionState to;  // when legal
};

std::vector<Case> AllCases() {
  using S = v1::KeyVersionState;
  const S states[] = {v1::PRE_ACTIVE, v1::ENABLED, v1::SUSPENDED, v1::DISABLED,
                      v1::COMPROMISED, v1::DESTROY_SCHEDULED, v1::DESTROYED};
  // The expected lifecycle (NIST SP 800-57), one row per operation.
  auto legal = [](S from, Op op) -> std::pair<bool, S> {
    switch (op) {
      case Op::kEnable:
        return {from == v1::PRE_ACTIVE || from == v1::SUSPENDED || from == v1::DISABLED,
                v1::ENABLED};
      case Op::kSuspend:
        return {from == v1::ENABLED, v1::SUSPENDED};
      case Op::kDisable:
        return {from == v1::PRE_ACTIVE || from == v1::ENABLED || from == v1::SUSPENDED ||
                    from == v1::COMPROMISED,
                v1::DISABLED};
      case Op::kCompromise:
        return {from == v1::ENABLED || from == v1::SUSPENDED || from == v1::DISABLED,
                v1::COMPROMISED};
      case Op::kDestroy:
        return {from == v1::PRE_ACTIVE || from == v1::ENABLED || from == v1::SUSPENDED ||
                    from == v1::DISABLED || from == v1::COMPROMISED,
                v1::DESTROY_SCHEDULED};
      case Op::kRestore:
        return {from == v1::DESTROY_SCHEDULED, v1::DISABLED};
    }
    return {false, from};
  };
  std::vector<Case> cases;
  for (S from : states) {
    for (Op op : {Op::kEnable, Op::kSuspend, Op::kDisable, Op::kCompromise, Op::kDestroy,
                  Op::kRestore}) {
      auto [ok, to] = legal(from, op);
      cases.push_back({from, op, ok, to});
    }
  }
  return cases;
}

class LifecycleTest : public KeyManagerFixture, public ::testing::WithParamInterface<Case> {
 protected:
  // keys/k: version 1 brought to `state`; version 2 is the primary.
  std::string Prepare(v1::KeyVersionState state) {
    v1::CreateKeyRequest r;
    r.set_key_id("k");
    r.set_owner(kOwner.principal);
    r.set_pre_active(true);
    r.set_destroy_wait_seconds(3600);
    EXPECT_OK(km_->CreateKey(kAdmin, r));
    v1::RotateKeyRequest rot;
    rot.set_name("keys/k");
    EXPECT_OK(km_->RotateKey(kAdmin, rot));
    const std::string v1name = "keys/k/versions/1";
    auto destroy = [&] {
      v1::DestroyKeyVersionRequest d;
      d.set_name(v1name);
      EXPECT_OK(km_->DestroyKeyVersion(kAdmin, d));
    };
    switch (state) {
      case v1::PRE_ACTIVE: break;
      case v1::ENABLED: EXPECT_OK(SetState(v1name, v1::ENABLED)); break;
      case v1::SUSPENDED:
        EXPECT_OK(SetState(v1name, v1::ENABLED));
        EXPECT_OK(SetState(v1name, v1::SUSPENDED));
        break;
      case v1::DISABLED: EXPECT_OK(SetState(v1name, v1::DISABLED)); break;
      case v1::COMPROMISED:
        EXPECT_OK(SetState(v1name, v1::ENABLED));
        EXPECT_OK(SetState(v1name, v1::COMPROMISED));
        break;
      case v1::DESTROY_SCHEDULED: destroy(); break;
      case v1::DESTROYED:
        destroy();
        clock_.Advance(absl::Hours(2));
        EXPECT_OK(km_->RunMaintenance());
        break;
      default: break;
    }
    auto v = Version(v1name);
    EXPECT_OK(v.status());
    EXPECT_EQ(v->state(), state);
    return v1name;
  }

  absl::Status Apply(const std::string& name, Op op) {
    switch (op) {
      case Op::kEnable: return SetState(name, v1::ENABLED).status();
      case Op::kSuspend: return SetState(name, v1::SUSPENDED).status();
      case Op::kDisable: return SetState(name, v1::DISABLED).status();
      case Op::kCompromise: return SetState(name, v1::COMPROMISED).status();
      case Op::kDestroy: {
        v1::DestroyKeyVersionRequest d;
        d.set_name(name);
        return km_->DestroyKeyVersion(kAdmin, d).status();
      }
      case Op::kRestore: {
        v1::RestoreKeyVersionRequest r;
        r.set_name(name);
        return km_->RestoreKeyVersion(kAdmin, r).status();
      }
    }
    return absl::InternalError("unknown op");
  }
};

TEST_P(LifecycleTest, Transition) {
  const Case& c = GetParam();
  std::string name = Prepare(c.from);
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion before, Version(name));
  absl::Status s = Apply(name, c.op);
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion after, Version(name));
  if (c.legal) {
    ASSERT_OK(s);
    EXPECT_EQ(after.state(), c.to);
    ASSERT_EQ(after.history_size(), before.history_size() + 1);
    EXPECT_EQ(after.history().rbegin()->principal(), kAdmin.principal);
    EXPECT_EQ(after.history().rbegin()->from(), c.from);
    EXPECT_GT(after.history().rbegin()->time_unix_micros(), 0);
  } else {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString()) << "a refused call changed state";
  }
  // The record survives a restart exactly.
  Reopen();
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion reopened, Version(name));
  EXPECT_EQ(reopened.SerializeAsString(), after.SerializeAsString());
}

INSTANTIATE_TEST_SUITE_P(AllPairs, LifecycleTest, ::testing::ValuesIn(AllCases()),
                         [](const auto& info) {
                           return "from_" + std::string(v1::KeyVersionState_Name(info.param.from)) +
                                  "_" + OpName(info.param.op);
                         });

// Which operations each state allows, checked on a real ciphertext.
class StateUseTest : public KeyManagerFixture,
                     public ::testing::WithParamInterface<v1::KeyVersionState> {};

TEST_P(StateUseTest, EncryptAndDecryptFollowTheState) {
  const v1::KeyVersionState state = GetParam();
  MakeKey("k", false, false, 3600);
  ASSERT_OK_AND_ASSIGN(auto ct, Encrypt("k", "secret"));
  switch (state) {
    case v1::ENABLED: break;
    case v1::SUSPENDED: ASSERT_OK(SetState("keys/k/versions/1", v1::SUSPENDED)); break;
    case v1::DISABLED: ASSERT_OK(SetState("keys/k/versions/1", v1::DISABLED)); break;
    case v1::COMPROMISED: ASSERT_OK(SetState("keys/k/versions/1", v1::COMPROMISED)); break;
    default: FAIL();
  }
  const bool can_decrypt = state != v1::DISABLED;
  const bool can_encrypt = state == v1::ENABLED;
  auto dec = Decrypt(ct.ciphertext());
  if (can_decrypt) {
    ASSERT_OK(dec);
    EXPECT_EQ(dec->plaintext(), "secret");
  } else {
    EXPECT_THAT(dec, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("DISABLED")));
  }
  auto enc = Encrypt("k", "more");
  if (can_encrypt) {
    EXPECT_OK(enc);
  } else {
    EXPECT_THAT(enc, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("encrypt needs ENABLED")));
  }
  if (state == v1::COMPROMISED) {
    ASSERT_OK_AND_ASSIGN(auto v, Version("keys/k/versions/1"));
    EXPECT_TRUE(v.needs_rewrap());
  }
}

INSTANTIATE_TEST_SUITE_P(States, StateUseTest,
                         ::testing::Values(v1::ENABLED, v1::SUSPENDED, v1::DISABLED, v1::COMPROMISED),
                         [](const auto& info) { return v1::KeyVersionState_Name(info.param); });

class KeyVersionRulesTest : public KeyManagerFixture {};

TEST_F(KeyVersionRulesTest, PrimaryVersionCannotBeDestroyed) {
  MakeKey("k");
  v1::DestroyKeyVersionRequest d;
  d.set_name("keys/k/versions/1");
  EXPECT_THAT(km_->DestroyKeyVersion(kAdmin, d),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("primary")));
}

// Disabling a compromised version does not launder it: it is never enabled
// again (it may still be destroyed).
TEST_F(KeyVersionRulesTest, ACompromisedVersionIsNeverEnabledAgain) {
  MakeKey("k");
  v1::RotateKeyRequest rot;
  rot.set_name("keys/k");
  ASSERT_OK(km_->RotateKey(kAdmin, rot).status());  // version 2 primary
  ASSERT_OK(SetState("keys/k/versions/1", v1::COMPROMISED).status());
  ASSERT_OK(SetState("keys/k/versions/1", v1::DISABLED).status());
  EXPECT_THAT(SetState("keys/k/versions/1", v1::ENABLED),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("was marked COMPROMISED and cannot be enabled again")));
  v1::DestroyKeyVersionRequest d;
  d.set_name("keys/k/versions/1");
  EXPECT_OK(km_->DestroyKeyVersion(kAdmin, d).status());
  // A version only disabled is enabled again as before.
  ASSERT_OK(SetState("keys/k/versions/2", v1::DISABLED).status());
  EXPECT_OK(SetState("keys/k/versions/2", v1::ENABLED).status());
}

TEST_F(KeyVersionRulesTest, DirectStateValuesAreRefused) {
  MakeKey("k");
  EXPECT_THAT(SetState("keys/k/versions/1", v1::DESTROYED),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("state:")));
  EXPECT_THAT(SetState("keys/k/versions/9", v1::SUSPENDED),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("keys/k/versions/9")));
  EXPECT_THAT(SetState("keys/k/versions/x", v1::SUSPENDED),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name:")));
}

}  // namespace
}  // namespace strongroom::kms
