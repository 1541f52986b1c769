// The PKCS#11 v2.40 API as shipped by p11-kit, plus the constants that its
// header (and SoftHSM 2.6) lack. Include this instead of <p11-kit/pkcs11.h>.
#ifndef STRONGROOM_KMS_PKCS11_CRYPTOKI_H_
#define STRONGROOM_KMS_PKCS11_CRYPTOKI_H_

#include <p11-kit/pkcs11.h>

#ifndef CKM_AES_KEY_WRAP_KWP
#define CKM_AES_KEY_WRAP_KWP (0x210bUL)
#endif

#endif  // STRONGROOM_KMS_PKCS11_CRYPTOKI_H_
