// Istio's public sample CA material (istio/istio samples/certs): whoever has the repository has
// the private keys. DER SHA-256 fingerprints (Node's X509Certificate.fingerprint256, no colons,
// lower case) and SPKI hashes, copied from shared/fixtures/istio-sample-certs/FINGERPRINTS.txt.

export const SAMPLE_CERT_FINGERPRINTS: Record<string, string> = {
  '63727a1785cab47acec5c24cc0669c20824e8ae1ac28079a4d2f8c830592e7b0': 'samples/certs/root-cert.pem',
  'f867174e4a31f1792f8c0354a23f8f049bd4019729cd2ee579d67033065b2dc2': 'samples/certs/ca-cert.pem',
  '11c9202c6be8ea5fcfb46d8591a8cf83b20eb97ade97234840851af8763ae428': 'samples/certs/root-cert-alt.pem (1.21+)',
  'e5cc551e468fd647ece496722755bf7a729adb6205b114cbd06b918ce2b4bb57': 'samples/certs/root-cert-alt.pem (1.18-1.20)',
  '1313a3551fa1e93c912355c74152bb0c2c406f4f8bd437f343a144f468837a47': 'samples/certs/root-cert-alt.pem (1.10-1.17)',
  '40ff5d9dcaa80833bb7291ef1f89acd9f4da11d6c6006b78897d3f9e2cff86b5': 'samples/certs/ca-cert-alt.pem',
  '677fbf661531ab421e73bfe7b2ebdb7ec5509174e3dfcd39d24b852e2d46d46c': 'samples/certs/ca-cert-alt-2.pem',
}

/** SHA-256 of the DER SubjectPublicKeyInfo of sample certificates (a re-signed sample key is still public). */
export const SAMPLE_SPKI_HASHES: Record<string, string> = {
  'f0592d4d660052580d0c0bfe09f9a4d795ad8ab7c2fa86c33276fbb352145ee5': 'the key of samples/certs/root-cert.pem',
  '42d8cfd1102e06e3f2579e68f9db4f787ec9cbcd1f19f1bae7934cee918c2fef': 'the key of samples/certs/ca-cert.pem',
}

export const SAMPLE_EMAIL = 'testrootca@istio.io'
