package password_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/password"
)

// Sources of the vectors below. Each was made by the format's original
// implementation (or taken from its own tests or documentation); none was
// made by this package.
const (
	// Python 3.11.7's crypt module, which calls libxcrypt 4.4.33 (Debian 12):
	//   python3 -c 'import crypt; print(crypt.crypt(PASSWORD, SETTING))'
	srcLibxcrypt = "python3.11 crypt.crypt → libxcrypt 4.4.33"
	// htpasswd -nbB -C 5 user PASSWORD (apache2-utils 2.4.71, Debian 12).
	srcHtpasswd = "htpasswd 2.4.71"
	// OpenSSL 3.0.19: openssl passwd -1|-5|-6 -salt SALT PASSWORD
	srcOpenSSL = "openssl passwd 3.0.19"
	// Python 3.11.7's hashlib (OpenSSL 3.0.19), the key put in PHC form:
	//   hashlib.pbkdf2_hmac(ALG, b"correct horse", SALT, ITER[, LEN])
	//   hashlib.scrypt(b"correct horse", salt=SALT, n=1024, r=8, p=1, dklen=32)
	srcHashlib = "python3.11 hashlib"
	// passlib's own tests, passlib/tests/test_handlers.py, classes
	// pbkdf2_sha1_test, pbkdf2_sha256_test, pbkdf2_sha512_test
	// (github.com/glic3rinu/passlib, a mirror of passlib, commit 3f6b5c1f).
	srcPasslib = "passlib tests/test_handlers.py"
	// Django's own tests, tests/auth_tests/test_hashers.py,
	// test_low_level_pbkdf2 and test_low_level_pbkdf2_sha1
	// (github.com/django/django, commit 02dbf166).
	srcDjango = "django tests/auth_tests/test_hashers.py"
	// Werkzeug's src/werkzeug/security.py (github.com/pallets/werkzeug,
	// commit 1b00618e, 3.2.0.dev), run standalone:
	//   generate_password_hash("correct horse", method=METHOD, salt_length=16)
	srcWerkzeug = "werkzeug security.py generate_password_hash"
	// Kratos's own tests, hash/hasher_test.go, TestCompare
	// (github.com/ory/kratos, commit b86338da).
	srcKratos = "kratos hash/hasher_test.go"
	// The example in github.com/firebase/scrypt's README.md (commit 36feb92b):
	// signer key jxspr8…XA==, salt separator Bw==, rounds 8, mem_cost 14,
	// user1@test.com's salt 42xEC+ixf3L2lw== and hash lSrfV15c…5lQ==,
	// password "user1password".
	srcFirebase = "firebase/scrypt README.md"
)

// passlib's non-ASCII test password, UPASS_WAV.
const upassWav = "\u0399\u03c9\u03b1\u03bd\u03bd\u03b7\u03c2"

var vectors = []struct {
	name, src, password, encoded string
}{
	// PBKDF2, PHC (as Kratos writes it, with l=).
	{"pbkdf2-sha1 phc", srcHashlib, "correct horse", "$pbkdf2-sha1$i=10000,l=20$dXNoZXItcGJrZGYyLXNoYTE$HZ/a6kUM4SEIzYTtH24mQh4WXW4"},
	{"pbkdf2-sha256 phc", srcHashlib, "correct horse", "$pbkdf2-sha256$i=10000,l=32$dXNoZXItcGJrZGYyLXNoYTI1Ng$czOSfOwHionHHGntgkkO5+ENGD1IdOvT1R7cImLG1SA"},
	{"pbkdf2-sha512 phc", srcHashlib, "correct horse", "$pbkdf2-sha512$i=10000,l=64$dXNoZXItcGJrZGYyLXNoYTUxMg$aSSZuRZqm/ILd+ynKFAqpzeao+1odBz9Q4Ob4i0J9RGkEyNfZaZfs8a6dyZ4TuYwu8xBHqZS3akErwpuLFNf4Q"},
	{"pbkdf2-sha1 phc without l", srcHashlib, "correct horse", "$pbkdf2-sha1$i=10000$dXNoZXItcGJrZGYyLXNoYTE$HZ/a6kUM4SEIzYTtH24mQh4WXW4"},
	{"pbkdf2-sha1 phc key of two blocks", srcHashlib, "correct horse", "$pbkdf2-sha1$i=1000,l=32$dXNoZXItdHdvLWJsb2Nrcw$QRZbgpkzaZi0IXWswd+cyb6slyBbopHRle3UPoOqUBA"},
	{"pbkdf2-sha256 kratos", srcKratos, "test", "$pbkdf2-sha256$i=100000,l=32$1jP+5Zxpxgtee/iPxGgOz0RfE9/KJuDElP1ley4VxXc$QJxzfvdbHYBpydCbHoFg3GJEqMFULwskiuqiJctoYpI"},
	{"pbkdf2-sha512 kratos", srcKratos, "test", "$pbkdf2-sha512$i=100000,l=32$bdHBpn7OWOivJMVJypy2UqR0UnaD5prQXRZevj/05YU$+wArTfv1a+bNGO1iZrmEdVjhA+lL11wF4/IxpgYfPwc"},
	// PBKDF2, passlib.
	{"passlib pbkdf2_sha1", srcPasslib, "password", "$pbkdf2$1212$OB.dtnSEXZK8U5cgxU/GYQ$y5LKPOplRmok7CZp/aqVDVg8zGI"},
	{"passlib pbkdf2_sha1 non-ascii", srcPasslib, upassWav, "$pbkdf2$1212$THDqatpidANpadlLeTeOEg$HV3oi1k5C5LQCgG1BMOL.BX4YZc"},
	{"passlib pbkdf2_sha256", srcPasslib, "password", "$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ"},
	{"passlib pbkdf2_sha256 non-ascii", srcPasslib, upassWav, "$pbkdf2-sha256$1212$3SABFJGDtyhrQMVt1uABPw$WyaUoqCLgvz97s523nF4iuOqZNbp5Nt8do/cuaa7AiI"},
	{"passlib pbkdf2_sha512", srcPasslib, "password", "$pbkdf2-sha512$1212$RHY0Fr3IDMSVO/RSZyb5ow$eNLfBK.eVozomMr.1gYa17k9B7KIK25NOEshvhrSX.esqY3s.FvWZViXz4KoLlQI.BzY/YTNJOiKc5gBYFYGww"},
	{"passlib pbkdf2_sha512 non-ascii", srcPasslib, upassWav, "$pbkdf2-sha512$1212$KkbvoKGsAIcF8IslDR6skQ$8be/PRmd88Ps8fmPowCJttH9G3vgxpG.Krjt3KT.NP6cKJ0V4Prarqf.HBwz0dCkJ6xgWnSj2ynXSV7MlvMa8Q"},
	// PBKDF2, Django.
	{"django pbkdf2_sha256", srcDjango, "lètmein", "pbkdf2_sha256$390000$seasalt2$geC/uZ92nRXDSjSxeoiBqYyRcrLzMm8xK3ro1QS1uo8="},
	{"django pbkdf2_sha1", srcDjango, "lètmein", "pbkdf2_sha1$390000$seasalt2$aDapRanzW8aHTz97v2TcfHzWD+I="},
	// PBKDF2, Werkzeug.
	{"werkzeug pbkdf2:sha256", srcWerkzeug, "correct horse", "pbkdf2:sha256:20000$R5l0CD1_5PEU7SJeZMDsxw$247f5b65fcac05777b832a98e587e81702888785177a781f3961c5bb879388c5"},
	{"werkzeug pbkdf2:sha512", srcWerkzeug, "correct horse", "pbkdf2:sha512:50000$dYgw2XuKih4czv9sy_ggqg$ee34bb2b613dbbfef4f3a3bb39722b6cd40b0d2644504bd123e5e2d95c50ef190ff6a1e8c4aa01d8bbff824d51000a0890964a338d80019113de4dc3f145c847"},
	{"werkzeug pbkdf2:sha1", srcWerkzeug, "correct horse", "pbkdf2:sha1:1000$kPs4yUp17z-5HCBgTZDaBg$8c3ece405ff87e653ac7621da99b78fce35d4753"},
	// sha-crypt.
	{"sha256-crypt", srcLibxcrypt, "correct horse", "$5$saltstring$vc6YOOogU4kWVvwga8e9zTFgKcy4tb5LaPxIiPJzqEC"},
	{"sha256-crypt rounds", srcLibxcrypt, "correct horse", "$5$rounds=10000$usher.vectors$JjT.glUTkHERtjuVmK84DaCki3CgnPyLMswSuxo.fv9"},
	{"sha256-crypt salt cut to 16", srcLibxcrypt, "Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
	{"sha256-crypt 200-byte password", srcLibxcrypt, strings.Repeat("x", 200), "$5$rounds=1000$longpw$GWMY6gAKbLymsVq1vyCG7TnhzcXQs.h3LnxsB.CSll0"},
	{"sha512-crypt", srcLibxcrypt, "correct horse", "$6$saltstring$.r0X7ub5wGR2v4Xz7svCIozfnlorFh19V89t8KC9Umd81uGhFgsyTRNyzQDXDIm17fFcR9z3z7oBNdsyYBbtm/"},
	{"sha512-crypt rounds", srcLibxcrypt, "correct horse", "$6$rounds=1000$usherVectors$owPNLbwLkd9RjW1ON3VRXKnLSE2F7bVfFG5FJS13RS75b/KCFX6Umw2toqp6o.pl8KTS3iBIpbNL8kQwhtysO1"},
	{"sha512-crypt non-ascii", srcLibxcrypt, "ünïcødé ä", "$6$rounds=2000$unicodeSalt$vtRXk1qWUo275RjBE0swm7XVTCTbbEAFPxEAWOg85QiHPiN2tUWtpbCoB6cF46EzguOSIRe1OQXvx5JP4q9uV."},
	{"sha256-crypt openssl", srcOpenSSL, "correct horse", "$5$opensslSalt5$RiLUMJZ4sfsV/CRbd0p6zl9Re.ZTrQ.NOUhv/cpegfA"},
	{"sha512-crypt openssl", srcOpenSSL, "correct horse", "$6$opensslSalt6$JSxlWZTGtWR2f8K.VlZirzN4StPOT3i1M9iu09XANX9Hz1RCEap43BGPLFenSFdWHZgBR9FuF3h6K8psV/2Sf0"},
	{"sha256-crypt kratos", srcKratos, "ory", "$sha256-crypt$rounds=535000$awpcR7lDlnK/S7WE$vHU7KkQwyjfGz6u4MUi7.lH9htK/l63HloTsX1ZMz.3"},
	{"sha512-crypt kratos", srcKratos, "test", "$sha512-crypt$rounds=656000$3LVbIAVxR//cRajw$uuNasMW.RYxlGzIRFU1Was70BPSa933AjxhZIGJdJBOlqJAHlgqa0yuiuq5JHF/ryNGryJkj87G9i3G2HPSXg1"},
	// md5-crypt.
	{"md5-crypt", srcLibxcrypt, "correct horse", "$1$usherSLT$I8MpctsxbqVl2uznDjBen/"},
	{"md5-crypt empty password", srcLibxcrypt, "", "$1$emptypw$zhghydSokQESgWwaHRZFS/"},
	{"md5-crypt openssl", srcOpenSSL, "correct horse", "$1$opensslS$tdbhfh8OrmDHtIZUNq7zw0"},
	{"md5-crypt kratos", srcKratos, "ory", "$md5-crypt$xWMlm2eL$GGTOpgZu4p2k6ORprAu3b."},
	// scrypt.
	{"scrypt phc", srcHashlib, "correct horse", "$scrypt$ln=10,r=8,p=1$dXNoZXItc2NyeXB0LXNhbHQ$DCXxgZakaeKbpBDp053jyjYmc/84+cbkmdS9IVPTNBw"},
	{"scrypt kratos", srcKratos, "test", "$scrypt$ln=16384,r=8,p=1$2npRo7P03Mt8keSoMbyD/tKFWyUzjiQf2svUaNDSrhA=$MiCzNcIplSMqSBrm4HckjYqYhaVPPjTARTzwB1cVNYE="},
	// Firebase's scrypt, as Kratos writes it.
	{"firebase scrypt kratos", srcKratos, "8x4WjoDbSxJZdR", "$firescrypt$ln=14,r=8,p=1$sPtDhWcd1MfdAw==$xbSou7FOl6mChCyzpCPIQ7tku7nsQMTFtyOZSXXd7tjBa4NtimOx7v42Gv2SfzPQu1oxM2/k4SsbOu73wlKe1A==$Bw==$YE0dO4bwD4JnJafh6lZZfkp1MtKzuKAXQcDCJNJNyeCHairWHKENOkbh3dzwaCdizzOspwr/FITUVlnOAwPKyw=="},
	// Salted digests.
	{"ssha", srcKratos, "test123", "{SSHA}JFZFs0oHzxbMwkSJmYVeI8MnTDy/276a"},
	{"ssha256", srcKratos, "test123", "{SSHA256}czO44OTV17PcF1cRxWrLZLy9xHd7CWyVYplr1rOhuMlx/7IK"},
	{"ssha512", srcKratos, "test123", "{SSHA512}xPUl/px+1cG55rUH4rzcwxdOIPSB2TingLpiJJumN2xyDWN4Ix1WQG3ihnvHaWUE8MYNkvMi5rf0C9NYixHsE6Yh59M="},
	{"salted sha1 {SALT}{PASSWORD}", srcKratos, "test", "$sha1$pf=e1NBTFR9e1BBU1NXT1JEfQ==$NW9wbWtnejAzcg==$2qU2SGWP8viTM1md3FiI3+rjWXQ="},
	{"salted sha1 with literal text", srcKratos, "test", "$sha1$pf=Pz9zdGF0aWNQcmVmaXg/P3tTQUxUfXtQQVNTV09SRH0=$NW9wbWtnejAzcg==$SAAxMUn7jxckQXkBmsVF0nHwqso="},
	{"salted sha256", srcKratos, "test", "$sha256$pf=e1NBTFR9e1BBU1NXT1JEfQ==$NW9wbWtnejAzcg==$0gfRVLCvtBCk20udLDEY5vNhujWx7RGjwRIS1ebMsLY="},
	{"salted sha512", srcKratos, "test", "$sha512$pf=e1NBTFR9e1BBU1NXT1JEfQ==$NW9wbWtnejAzcg==$6ctpVuApMNp0CgBXcdHw/GC562eFEFGr4gpgANX8ZYsX+j5B19IkdmOY2Fytsz3QUwSWdGcUjbqwgJGTH0UYvw=="},
	// Ours and the others that were there before, for Check.
	{"bcrypt htpasswd", srcHtpasswd, "correct horse", "$2y$05$IXzSoxkJhWjlzxz128Hf.eoxybQBugq.LBEccgln8c1/Tci5xhC8W"},
	{"argon2i kratos", srcKratos, "test", "$argon2i$v=19$m=65536,t=3,p=4$kk51rW/vxIVCYn+EG4kTSg$NyT88uraJ6im6dyha/M5jhXvpqlEdlS/9fEm7ScMb8c"},
}

func TestVerifyFormats(t *testing.T) {
	h := newHasher(t, cheap)
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			if err := password.Check(v.encoded); err != nil {
				t.Errorf("Check error %v; want nil", err)
			}
			ok, rehash, err := h.Verify(t.Context(), v.password, v.encoded)
			if err != nil || !ok || !rehash {
				t.Errorf("Verify(right password) = %v, %v, %v; want true, true, nil (vector from %s)", ok, rehash, err, v.src)
			}
			ok, rehash, err = h.Verify(t.Context(), v.password+"x", v.encoded)
			if err != nil || ok || rehash {
				t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestFirebaseParams(t *testing.T) {
	// srcFirebase: the README's project parameters and exported user.
	p, err := password.NewFirebaseParams(
		"jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==", "Bw==", 8, 14)
	if err != nil {
		t.Fatalf("NewFirebaseParams error %v", err)
	}
	encoded, err := p.Encode("42xEC+ixf3L2lw==",
		"lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==")
	if err != nil {
		t.Fatalf("Encode error %v", err)
	}
	if !strings.HasPrefix(encoded, "$firebase-scrypt$mem_cost=14,rounds=8$") {
		t.Errorf("Encode = %q; want $firebase-scrypt$mem_cost=14,rounds=8$…", encoded)
	}
	if err := password.Check(encoded); err != nil {
		t.Errorf("Check(Encode) error %v; want nil", err)
	}
	h := newHasher(t, cheap)
	if ok, rehash, err := h.Verify(t.Context(), "user1password", encoded); err != nil || !ok || !rehash {
		t.Errorf("Verify(right password) = %v, %v, %v; want true, true, nil (vector from %s)", ok, rehash, err, srcFirebase)
	}
	if ok, _, err := h.Verify(t.Context(), "user1passwore", encoded); err != nil || ok {
		t.Errorf("Verify(wrong password) = %v, %v; want false, nil", ok, err)
	}

	bad := []struct {
		name                 string
		key, sep             string
		rounds, memCost      int
		salt, hash           string
		wantParamErr, isCost bool
	}{
		{name: "key not base64", key: "!!!", sep: "Bw==", rounds: 8, memCost: 14, wantParamErr: true},
		{name: "empty key", key: "", sep: "Bw==", rounds: 8, memCost: 14, wantParamErr: true},
		{name: "separator not base64", key: "AAAA", sep: "B", rounds: 8, memCost: 14, wantParamErr: true},
		{name: "rounds zero", key: "AAAA", sep: "Bw==", rounds: 0, memCost: 14, wantParamErr: true},
		{name: "mem_cost negative", key: "AAAA", sep: "Bw==", rounds: 8, memCost: -1, wantParamErr: true},
		{name: "mem_cost over cap", key: "AAAA", sep: "Bw==", rounds: 8, memCost: 40, wantParamErr: true, isCost: true},
		{name: "rounds over cap", key: "AAAA", sep: "Bw==", rounds: 1000, memCost: 14, wantParamErr: true, isCost: true},
		{name: "memory over cap", key: "AAAA", sep: "Bw==", rounds: 32, memCost: 20, wantParamErr: true, isCost: true},
		{name: "hash not as long as key", key: "AAAA", sep: "Bw==", rounds: 8, memCost: 14, salt: "42xEC+ixf3L2lw==", hash: "AAAAAA=="},
		{name: "salt not base64", key: "AAAA", sep: "Bw==", rounds: 8, memCost: 14, salt: "*", hash: "AAAA"},
		{name: "empty salt", key: "AAAA", sep: "Bw==", rounds: 8, memCost: 14, salt: "", hash: "AAAA"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			p, err := password.NewFirebaseParams(tt.key, tt.sep, tt.rounds, tt.memCost)
			if tt.wantParamErr {
				if err == nil {
					t.Fatalf("NewFirebaseParams error nil; want an error")
				}
				if got := errors.Is(err, password.ErrCostTooHigh); got != tt.isCost {
					t.Errorf("NewFirebaseParams error %v: is ErrCostTooHigh %v; want %v", err, got, tt.isCost)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewFirebaseParams error %v", err)
			}
			if s, err := p.Encode(tt.salt, tt.hash); err == nil {
				t.Errorf("Encode = %q; want an error", s)
			}
		})
	}
}

func TestCheckRefusals(t *testing.T) {
	h := newHasher(t, cheap)
	tests := []struct {
		name, encoded string
		kind          error
		mention       string // the message names the format
	}{
		// Kratos's vectors (srcKratos) of formats Usher refuses.
		{"md5 unsalted", "$md5$CY9rzUYh03PK3k6DJie09g==", password.ErrRefused, "md5"},
		{"md5 salted", "$md5$pf=e1NBTFR9e1BBU1NXT1JEfQ==$MTIz$q+RdKCgc+ipCAcm5ChQwlQ==", password.ErrRefused, "md5"},
		{"hmac-md4", "$hmac-md4$MWQ5ZTI4Nzc2Zjg4YmE2MTQ5YjQ0OTMyOGE4NWU4YjA=$MTIzNDU=", password.ErrRefused, "hmac"},
		{"hmac-md5", "$hmac-md5$ZmU4Njk3Zjc0MmQwODA0MDVkMTI3MGU2MTYzMzE2Zjk=$MTIzNDU=", password.ErrRefused, "hmac"},
		{"hmac-sha1", "$hmac-sha1$NDMyNjcxZTUyY2Y2YTBmYjZjZDE2NjQxYjAwNjFiZjAwOGEzNWM5MA==$MTIzNDU=", password.ErrRefused, "hmac"},
		{"hmac-sha256", "$hmac-sha256$ZTAzMWJhMWMyOTM4YjFkMjgzZjkxOWExZGY5YWM2NmMxOTJhN2RkNzQ0MzJkNWZkNGFkYTI5OTk0MWJhMTA5Zg==$MTIzNDU=", password.ErrRefused, "hmac"},
		{"pbkdf2-sha224 (sha3 in kratos)", "$pbkdf2-sha224$i=100000,l=32$A2nzbFd+wwzPSb+TqkF5Pw$9M4GM2yOYw/fZvsvQbF/0Ec8JO2u9O1MYRTfrDimX6o", password.ErrRefused, "sha224"},
		{"pbkdf2-sha384 (sha3 in kratos)", "$pbkdf2-sha384$i=100000,l=32$xDInuz7Y/DPzZUnCaQXJmg$7ICaEa6jEqxbbCBbv4YzrBf39KYNAtc3Bj0QWKeB3Ck", password.ErrRefused, "sha384"},
		{"md5-crypt without salt", "$md5-crypt$$whuMjZj.HMFoaTaZRRtkO0", password.ErrRefused, "md5-crypt"},
		// Others.
		{"ldap {SHA}", "{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=", password.ErrRefused, "sha"},
		{"ldap {MD5}", "{MD5}CY9rzUYh03PK3k6DJie09g==", password.ErrRefused, "md5"},
		{"ssha without salt", "{SSHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=", password.ErrRefused, "ssha"},
		{"salted sha without {SALT}", "$sha1$pf=e1BBU1NXT1JEfQ==$NW9wbWtnejAzcg==$2qU2SGWP8viTM1md3FiI3+rjWXQ=", password.ErrRefused, "sha1"},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", password.ErrRefused, "argon2d"},
		{"bcrypt $2x$", "$2x$10$o6hx.Wog/wvFSkT/Bp/6DOxCtLRTDj7lm9on9suF/WaCGNVHbkfL6", password.ErrRefused, "$2x$"},
		{"sha-crypt without salt", "$5$$vc6YOOogU4kWVvwga8e9zTFgKcy4tb5LaPxIiPJzqEC", password.ErrRefused, "sha256-crypt"},
		// Unknown.
		{"empty", "", password.ErrUnknownFormat, "unknown"},
		{"plain text", "correct horse", password.ErrUnknownFormat, "unknown"},
		{"unknown scheme", "$unknown$12$o6hx.Wog/wvFSkT/Bp/6DOxCtLRTDj7lm9on9suF/WaCGNVHbkfL6", password.ErrUnknownFormat, "unknown"},
		{"django md5", "md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3", password.ErrUnknownFormat, "unknown"},
		{"pbkdf2 other digest", "$pbkdf2-md5$i=1000$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", password.ErrUnknownFormat, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := password.Check(tt.encoded)
			assertHashError(t, err, tt.kind, tt.mention, tt.encoded)
			before := h.Runs()
			ok, rehash, verr := h.Verify(t.Context(), "test", tt.encoded)
			if verr == nil || ok || rehash {
				t.Errorf("Verify = %v, %v, %v; want false, false, an error", ok, rehash, verr)
			}
			if !errors.Is(verr, tt.kind) {
				t.Errorf("Verify error %v; want %v", verr, tt.kind)
			}
			if got := h.Runs() - before; got != 1 {
				t.Errorf("Verify counted %d runs; want 1", got)
			}
		})
	}
}

// assertHashError checks that err is a *HashError of kind, whose message
// names mention and does not hold the hash's secret parts.
func assertHashError(t *testing.T, err, kind error, mention, encoded string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v; want %v", err, kind)
	}
	var he *password.HashError
	if !errors.As(err, &he) {
		t.Fatalf("error %T; want *password.HashError", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, mention) {
		t.Errorf("error %q does not name %q", msg, mention)
	}
	// No field of the hash but its format's name (salt, key) shows.
	fields := strings.FieldsFunc(encoded, func(r rune) bool { return strings.ContainsRune("$,=:{}", r) })
	for i, f := range fields {
		if _, isNumber := strconv.Atoi(f); i > 0 && len(f) >= 12 && isNumber != nil && strings.Contains(msg, f) {
			t.Errorf("error %q holds a part of the hash, %q", msg, f)
		}
	}
}

func TestCheckMalformedAndCaps(t *testing.T) {
	// Variants of the vectors above (and of Kratos's malformed cases).
	const (
		pbSalt  = "dXNoZXItcGJrZGYyLXNoYTI1Ng"
		pbKey   = "czOSfOwHionHHGntgkkO5+ENGD1IdOvT1R7cImLG1SA"
		s256Sum = "vc6YOOogU4kWVvwga8e9zTFgKcy4tb5LaPxIiPJzqEC"
		s512Sum = ".r0X7ub5wGR2v4Xz7svCIozfnlorFh19V89t8KC9Umd81uGhFgsyTRNyzQDXDIm17fFcR9z3z7oBNdsyYBbtm/"
		scSalt  = "dXNoZXItc2NyeXB0LXNhbHQ"
		scKey   = "DCXxgZakaeKbpBDp053jyjYmc/84+cbkmdS9IVPTNBw"
		fbTail  = "$sPtDhWcd1MfdAw==$xbSou7FOl6mChCyzpCPIQ7tku7nsQMTFtyOZSXXd7tjBa4NtimOx7v42Gv2SfzPQu1oxM2/k4SsbOu73wlKe1A==$Bw==$YE0dO4bwD4JnJafh6lZZfkp1MtKzuKAXQcDCJNJNyeCHairWHKENOkbh3dzwaCdizzOspwr/FITUVlnOAwPKyw=="
	)
	tests := []struct {
		name, encoded string
		kind          error
		mention       string
	}{
		// Cost over the caps.
		{"pbkdf2 iterations", "$pbkdf2-sha256$i=2000001$" + pbSalt + "$" + pbKey, password.ErrCostTooHigh, "iterations"},
		{"pbkdf2 iterations huge", "$pbkdf2-sha256$i=99999999999999999999999$" + pbSalt + "$" + pbKey, password.ErrCostTooHigh, "iterations"},
		{"pbkdf2 key of two blocks", "$pbkdf2-sha1$i=1500000$" + pbSalt + "$" + pbKey, password.ErrCostTooHigh, "iterations"},
		{"passlib iterations", "$pbkdf2$3000000$OB.dtnSEXZK8U5cgxU/GYQ$y5LKPOplRmok7CZp/aqVDVg8zGI", password.ErrCostTooHigh, "iterations"},
		{"django iterations", "pbkdf2_sha256$3900000$seasalt2$geC/uZ92nRXDSjSxeoiBqYyRcrLzMm8xK3ro1QS1uo8=", password.ErrCostTooHigh, "iterations"},
		{"werkzeug iterations", "pbkdf2:sha1:10000000$kPs4yUp17z-5HCBgTZDaBg$8c3ece405ff87e653ac7621da99b78fce35d4753", password.ErrCostTooHigh, "iterations"},
		{"sha256-crypt rounds", "$5$rounds=999999999$saltstring$" + s256Sum, password.ErrCostTooHigh, "rounds"},
		{"sha512-crypt rounds", "$6$rounds=1000001$saltstring$" + s512Sum, password.ErrCostTooHigh, "rounds"},
		{"scrypt ln", "$scrypt$ln=21,r=8,p=1$" + scSalt + "$" + scKey, password.ErrCostTooHigh, "log2(N)"},
		{"scrypt kratos N", "$scrypt$ln=4194304,r=8,p=1$" + scSalt + "$" + scKey, password.ErrCostTooHigh, "log2(N)"},
		{"scrypt memory", "$scrypt$ln=20,r=8,p=1$" + scSalt + "$" + scKey, password.ErrCostTooHigh, "memory"},
		{"scrypt r", "$scrypt$ln=10,r=64,p=1$" + scSalt + "$" + scKey, password.ErrCostTooHigh, "r"},
		{"scrypt p", "$scrypt$ln=10,r=8,p=17$" + scSalt + "$" + scKey, password.ErrCostTooHigh, "p"},
		{"firebase mem_cost", "$firescrypt$ln=25,r=8,p=1" + fbTail, password.ErrCostTooHigh, "log2(N)"},
		{"argon2 memory", "$argon2id$v=19$m=2000000,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", password.ErrCostTooHigh, "memory"},
		{"argon2 time", "$argon2id$v=19$m=64,t=1000,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", password.ErrCostTooHigh, "time"},
		{"bcrypt cost", "$2a$31$o6hx.Wog/wvFSkT/Bp/6DOxCtLRTDj7lm9on9suF/WaCGNVHbkfL6", password.ErrCostTooHigh, "cost"},
		// Malformed.
		{"pbkdf2 no iterations", "$pbkdf2-sha256$" + pbSalt + "$" + pbKey, password.ErrMalformed, "pbkdf2-sha256"},
		{"pbkdf2 iterations not a number", "$pbkdf2-sha256$aaaa$" + pbSalt + "$" + pbKey, password.ErrMalformed, "pbkdf2-sha256"},
		{"pbkdf2 capital I", "$pbkdf2-sha512$I=100000,l=32$" + pbSalt + "$" + pbKey, password.ErrMalformed, "pbkdf2-sha512"},
		{"pbkdf2 l not the key length", "$pbkdf2-sha256$i=1000,l=20$" + pbSalt + "$" + pbKey, password.ErrMalformed, "pbkdf2-sha256"},
		{"pbkdf2 bad base64", "$pbkdf2-sha256$i=1000$" + pbSalt + "$" + pbKey + "*", password.ErrMalformed, "pbkdf2-sha256"},
		{"pbkdf2 zero iterations", "$pbkdf2-sha256$i=0$" + pbSalt + "$" + pbKey, password.ErrMalformed, "pbkdf2-sha256"},
		{"passlib zero-padded rounds", "$pbkdf2$01212$THDqatpidANpadlLeTeOEg$HV3oi1k5C5LQCgG1BMOL.BX4YZc", password.ErrMalformed, "pbkdf2"},
		{"passlib empty rounds", "$pbkdf2$$THDqatpidANpadlLeTeOEg$HV3oi1k5C5LQCgG1BMOL.BX4YZc", password.ErrMalformed, "pbkdf2"},
		{"passlib extra field", "$pbkdf2$1212$THDqatpidANpadlLeTeOEg$HV3oi1k5C5LQCgG1BMOL.BX4YZc$", password.ErrMalformed, "pbkdf2"},
		{"django key not base64", "pbkdf2_sha256$390000$seasalt2$geC/uZ92nRXDSjSxeoiBqYyRcrLzMm8xK3ro1QS1uo8", password.ErrMalformed, "pbkdf2_sha256"},
		{"django empty salt", "pbkdf2_sha256$390000$$geC/uZ92nRXDSjSxeoiBqYyRcrLzMm8xK3ro1QS1uo8=", password.ErrMalformed, "pbkdf2_sha256"},
		{"werkzeug no iterations", "pbkdf2:sha256$AoxmwQxM1ji1BfMSN2464A$53efe04cb542af8ee42ad9e3c94da4115de220fc63f9255622d2bf5a822027dd", password.ErrMalformed, "werkzeug"},
		{"werkzeug unknown digest", "pbkdf2:md5:1000$AoxmwQxM1ji1BfMSN2464A$53efe04cb542af8ee42ad9e3c94da411", password.ErrMalformed, "werkzeug"},
		{"werkzeug key not hex", "pbkdf2:sha1:1000$kPs4yUp17z-5HCBgTZDaBg$8c3ece405ff87e653ac7621da99b78fce35d475x", password.ErrMalformed, "werkzeug"},
		{"sha256-crypt short hash", "$5$saltstring$" + s256Sum[:42], password.ErrMalformed, "sha256-crypt"},
		{"sha256-crypt bad character", "$5$saltstring$" + s256Sum[:42] + "*", password.ErrMalformed, "sha256-crypt"},
		{"sha512-crypt salt over 16", "$6$saltstringsaltstring$" + s512Sum, password.ErrMalformed, "sha512-crypt"},
		{"sha512-crypt rounds not a number", "$6$rounds=ten$saltstring$" + s512Sum, password.ErrMalformed, "sha512-crypt"},
		{"sha512-crypt rounds negative", "$6$rounds=-5000$saltstring$" + s512Sum, password.ErrMalformed, "sha512-crypt"},
		{"sha512-crypt no hash", "$6$saltstring", password.ErrMalformed, "sha512-crypt"},
		{"sha256-crypt kratos empty", "$sha256-crypt$$", password.ErrMalformed, "sha256-crypt"},
		{"md5-crypt no salt field", "$md5-crypt$whuMjZj.HMFoaTaZRRtkO0", password.ErrMalformed, "md5-crypt"},
		{"md5-crypt long hash", "$1$usherSLT$I8MpctsxbqVl2uznDjBen/x", password.ErrMalformed, "md5-crypt"},
		{"scrypt kratos N not a power of two", "$scrypt$ln=16385,r=8,p=1$" + scSalt + "$" + scKey, password.ErrMalformed, "scrypt"},
		{"scrypt no params", "$scrypt$" + scSalt + "$" + scKey, password.ErrMalformed, "scrypt"},
		{"scrypt ln not a number", "$scrypt$ln=abc,r=8,p=1$" + scSalt + "$" + scKey, password.ErrMalformed, "scrypt"},
		{"scrypt repeated param", "$scrypt$ln=10,ln=10,r=8,p=1$" + scSalt + "$" + scKey, password.ErrMalformed, "scrypt"},
		{"scrypt bad salt", "$scrypt$ln=10,r=8,p=1$(" + scSalt + "$" + scKey, password.ErrMalformed, "scrypt"},
		{"firebase hash shorter than key", "$firescrypt$ln=14,r=8,p=1$sPtDhWcd1MfdAw==$xbSou7FOl6mChCyz$Bw==$YE0dO4bwD4JnJafh6lZZfkp1MtKzuKAXQcDCJNJNyeCHairWHKENOkbh3dzwaCdizzOspwr/FITUVlnOAwPKyw==", password.ErrMalformed, "firebase"},
		{"firebase missing field", "$firescrypt$ln=14,r=8,p=1$sPtDhWcd1MfdAw==$Bw==$YE0dO4bwD4JnJafh6lZZfkp1MtKzuKAXQcDCJNJNyeCHairWHKENOkbh3dzwaCdizzOspwr/FITUVlnOAwPKyw==", password.ErrMalformed, "firebase"},
		{"firebase own format, missing rounds", "$firebase-scrypt$mem_cost=14" + fbTail, password.ErrMalformed, "firebase"},
		{"ssha too short", "{SSHA}tooshort", password.ErrMalformed, "ssha"},
		{"ssha not base64", "{SSHA256}czO44OTV17PcF1cRxWrLZLy9xHd7CWyVYplr1rOhuMlx/7I*", password.ErrMalformed, "ssha256"},
		{"salted sha without {PASSWORD}", "$sha1$pf=e1NBTFR9$NW9wbWtnejAzcg==$2qU2SGWP8viTM1md3FiI3+rjWXQ=", password.ErrMalformed, "sha1"},
		{"salted sha missing pf", "$sha1$NW9wbWtnejAzcg==$2qU2SGWP8viTM1md3FiI3+rjWXQ=", password.ErrMalformed, "sha1"},
		{"salted sha salt not base64", "$sha1$pf=e1NBTFR9e1BBU1NXT1JEfQ==$5opmkgz03r$2qU2SGWP8viTM1md3FiI3+rjWXQ=", password.ErrMalformed, "sha1"},
		{"bcrypt truncated", "$2a$12$o6hx.Wog/wvFSkT/Bp/6D", password.ErrMalformed, "bcrypt"},
		{"bcrypt cost not a number", "$2a$1x$o6hx.Wog/wvFSkT/Bp/6DOxCtLRTDj7lm9on9suF/WaCGNVHbkfL6", password.ErrMalformed, "bcrypt"},
		{"argon2 no version", "$argon2id$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", password.ErrMalformed, "argon2"},
	}
	h := newHasher(t, cheap)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := password.Check(tt.encoded)
			if d := time.Since(start); d > 50*time.Millisecond {
				// Check computes nothing; a hash's worth of time is a bug.
				t.Errorf("Check took %v", d)
			}
			assertHashError(t, err, tt.kind, tt.mention, tt.encoded)
			ok, rehash, verr := h.Verify(t.Context(), "test", tt.encoded)
			if !errors.Is(verr, tt.kind) || ok || rehash {
				t.Errorf("Verify = %v, %v, %v; want false, false, %v", ok, rehash, verr, tt.kind)
			}
		})
	}
}

func TestCheckOwnHash(t *testing.T) {
	h := newHasher(t, cheap)
	encoded, err := h.Hash(t.Context(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := password.Check(encoded); err != nil {
		t.Errorf("Check(own hash) error %v; want nil", err)
	}
}

func TestSHACryptLongPassword(t *testing.T) {
	// A sha-crypt round hashes the password twice, so its cost grows with
	// the password: passwords over 256 bytes never match, as bcrypt's over
	// 72 do not, and cost nothing to refuse.
	h := newHasher(t, cheap)
	// srcLibxcrypt: crypt.crypt("x"*200, "$5$rounds=1000$longpw").
	const encoded = "$5$rounds=1000$longpw$GWMY6gAKbLymsVq1vyCG7TnhzcXQs.h3LnxsB.CSll0"
	if ok, _, err := h.Verify(t.Context(), strings.Repeat("x", 200), encoded); err != nil || !ok {
		t.Errorf("Verify(200 bytes) = %v, %v; want true, nil", ok, err)
	}
	if ok, _, err := h.Verify(t.Context(), strings.Repeat("x", 257), encoded); err != nil || ok {
		t.Errorf("Verify(257 bytes) = %v, %v; want false, nil", ok, err)
	}
}

func FuzzCheck(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.encoded)
	}
	f.Add("$firebase-scrypt$mem_cost=14,rounds=8$c2FsdHNhbHQ$AAAA$Bw$AAAA")
	f.Fuzz(func(t *testing.T, encoded string) {
		err := password.Check(encoded)
		if err == nil {
			return
		}
		var he *password.HashError
		if !errors.As(err, &he) {
			t.Fatalf("Check error %T %v; want a *HashError", err, err)
		}
		for _, kind := range []error{password.ErrUnknownFormat, password.ErrRefused, password.ErrCostTooHigh, password.ErrMalformed} {
			if errors.Is(err, kind) {
				return
			}
		}
		t.Fatalf("Check error %v has no kind", err)
	})
}
