package aws

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRSAAESKeyWrapAgainstOpenSSL: what keyward sends as
// RSA_AES_KEY_WRAP_SHA_256 unwraps with pyca/cryptography (OpenSSL's
// RSA-OAEP-SHA-256 and its AES key wrap with padding, RFC 5649) — an
// implementation keyward does not share — to the PKCS#8 key it wrapped.
// It needs python3 with cryptography (Debian's python3-cryptography,
// which .ci/run installs with python3-pykmip).
func TestRSAAESKeyWrapAgainstOpenSSL(t *testing.T) {
	py := debianPython()
	if exec.Command(py, "-c", "import cryptography.hazmat.primitives.keywrap").Run() != nil {
		if os.Getenv("KEYWARD_REQUIRE_PYKMIP") != "" {
			t.Fatal("python3 with cryptography is required here")
		}
		t.Skip("python3 with cryptography is not installed (apt-get install python3-cryptography)")
	}
	wrapping, _ := rsa.GenerateKey(rand.Reader, 2048) // a 4096-bit key proves nothing more and takes seconds
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "wrapping.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(wrapping)}), 0o600); err != nil {
		t.Fatal(err)
	}
	ek, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ek)
	for _, plain := range [][]byte{der, bytes.Repeat([]byte{7}, 17), bytes.Repeat([]byte{9}, 32)} {
		wrapped, err := wrapAESKeyWrap(&wrapping.PublicKey, plain)
		if err != nil {
			t.Fatal(err)
		}
		script := `
import sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
k = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
b = bytes.fromhex(sys.stdin.read())
n = k.key_size // 8
aes = k.decrypt(b[:n], padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
print(aes_key_unwrap_with_padding(aes, b[n:]).hex())
`
		cmd := exec.Command(py, "-c", script, pemFile)
		cmd.Stdin = strings.NewReader(hex.EncodeToString(wrapped))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("OpenSSL could not unwrap keyward's RSA_AES_KEY_WRAP_SHA_256: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != hex.EncodeToString(plain) {
			t.Fatalf("OpenSSL unwrapped %d bytes to something else", len(plain))
		}
	}
}

// debianPython is Debian's /usr/bin/python3 (where apt puts
// python3-cryptography) when it exists: the python3 first on PATH may be
// another one (pyenv, a venv) without it.
func debianPython() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}
