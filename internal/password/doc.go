// Package password hashes new passwords with argon2id, verifies them, and
// verifies the hashes of users imported from other systems, which are
// replaced with argon2id at the user's first successful login. Check
// validates an imported hash without computing it.
//
// Imported formats, accepted or refused (Kratos's importer takes all of
// these; Usher refuses those that keeping would make close to keeping the
// password):
//
//	format                                   verdict   why
//	argon2id, argon2i (PHC)                  accepted  memory-hard password hash
//	argon2d                                  refused   memory access depends on the password (side channels)
//	bcrypt $2a$ $2b$ $2y$                    accepted  password hash; over 72 bytes never matches
//	bcrypt $2x$, $2$                         refused   buggy or original variants no library here reproduces
//	scrypt (PHC; Kratos's ln=N form)         accepted  memory-hard password hash
//	Firebase scrypt ($firebase-scrypt$,      accepted  scrypt-based; salted and costly
//	  Kratos's $firescrypt$)
//	PBKDF2 SHA-1/256/512 (PHC, passlib,      accepted  salted and iterated
//	  Django, Werkzeug)
//	PBKDF2 sha224/sha384 (Kratos)            refused   Kratos computes them with SHA3 despite the name: ambiguous
//	sha256-crypt, sha512-crypt ($5$ $6$)     accepted  salted and iterated (rounds)
//	md5-crypt ($1$, $md5-crypt$)             accepted  weak (fixed 1,000 MD5 rounds) but salted and
//	                                                   iterated; no shortcut to reverse it
//	SSHA, SSHA256, SSHA512 ({SSHA…})         accepted  weak (one digest pass) but salted, so each user is
//	                                                   a separate search; OpenLDAP's default
//	salted SHA ($sha1$ $sha256$ $sha512$     accepted  as SSHA, when the template holds {SALT} and the
//	  with a pf= template, Kratos)                     salt is not empty; refused otherwise (unsalted)
//	MD5 ($md5$ plain or salted, {MD5},       refused   one MD5 pass: unsalted ones fall to lookup
//	  {SMD5})                                          tables, salted ones to brute force at GPU speed
//	{SHA}                                    refused   unsalted: equal passwords share a hash
//	HMAC ($hmac-md4 … $hmac-sha512)          refused   the key is an application-wide secret, so the hash
//	                                                   is unsalted across users; md4/md5 are broken too
//	any crypt hash with an empty salt        refused   unsalted
//
// Cost parameters read from a stored hash are capped, so a planted hash
// cannot make one verification take minutes or gigabytes: argon2 m ≤ 256
// MiB, t ≤ 16, p ≤ 16; bcrypt cost ≤ 14; scrypt (and Firebase's) N ≤ 2^20,
// r ≤ 32, p ≤ 16 and 128·r·N ≤ 256 MiB; PBKDF2 iterations × key blocks ≤
// 2,000,000; sha-crypt rounds ≤ 1,000,000, and a sha-crypt hash never
// matches a password over 256 bytes, since each round hashes the password.
package password
