import Glibc
import SluiceIdentity

/// libFuzzer entry: the input as a bearer token, verified against a fixed JWKS (one EC P-256
/// and one RSA 2048 key, public halves only) as the ingress verifies a token it has not seen:
/// compact-form splitting, base64url, the header and claims JSON, key choice and the OpenSSL
/// signature check. Nothing the fuzzer writes can carry a valid signature, so every input
/// must be refused, and none may crash.
let verifier: OIDCVerifier = {
    let jwks = """
        {"keys": [
          {"kty": "EC", "crv": "P-256", "kid": "ec", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
           "y": "x_FEzRu9m36HLN_tie__w31Ltgix0YUCjaakHqQJpbU"},
          {"kty": "RSA", "kid": "rsa", "e": "AQAB", "n": "\(String(repeating: "u", count: 342))w"}
        ]}
        """
    let path = "/tmp/sluice-token-fuzz-\(getpid()).json"
    guard let file = fopen(path, "w") else { fatalError("cannot write \(path)") }
    fputs(jwks, file)
    fclose(file)
    do {
        return try OIDCVerifier(jwksPath: path, issuer: "https://issuer.example")
    } catch {
        fatalError("the fuzz JWKS does not load: \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let token = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if case .success = verifier.verify(token, audience: "eventing.knative.dev/broker/demo/default") {
        fatalError("a token without a valid signature was accepted: \(token)")
    }
    _ = verifier.cached(token: UnsafeRawBufferPointer(start: data, count: size), audience: "a")
    return 0
}
