// Shared by the KeyBroker's .cc files; not part of its interface.
#ifndef STRONGROOM_KMS_BROKER_KEY_BROKER_INTERNAL_H_
#define STRONGROOM_KMS_BROKER_KEY_BROKER_INTERNAL_H_

#include <string>

#include "kms/broker/key_broker.h"
#include "nlohmann/json.hpp"

namespace strongroom::kms {

// A token that passed CheckTokenFor.
struct KeyBroker::CheckedToken {
  nlohmann::json payload;
  std::string token_id;
  std::string key;  // keys/{key}, or datasets/{id} for a dataset token
  std::string policy_digest;
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_BROKER_KEY_BROKER_INTERNAL_H_
