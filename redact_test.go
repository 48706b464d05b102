package audit_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// redactContexts puts value under key in every place redaction must reach:
// the top level, an object inside an array inside an object, an array of
// objects, and a struct field whose JSON name is key. It returns the
// metadata and what it must read back as, given the value it must hold
// (want).
func redactContexts(key string, value, want any) (meta, expect map[string]any) {
	field := reflect.StructField{Name: "Field", Type: reflect.TypeOf(value), Tag: reflect.StructTag(fmt.Sprintf(`json:%q`, key))}
	structValue := reflect.New(reflect.StructOf([]reflect.StructField{field})).Elem()
	structValue.Field(0).Set(reflect.ValueOf(value))
	meta = map[string]any{
		key:      value,
		"nested": map[string]any{"level": []any{map[string]any{key: value}}},
		"list":   []any{map[string]any{key: value}, "plain"},
		"struct": structValue.Interface(),
	}
	expect = map[string]any{
		key:      want,
		"nested": map[string]any{"level": []any{map[string]any{key: want}}},
		"list":   []any{map[string]any{key: want}, "plain"},
		"struct": map[string]any{key: want},
	}
	return meta, expect
}

// TestRedactionByWord tracks every key of the two lists at the top level,
// at depth, in arrays and as struct fields by JSON name: the first must be
// redacted by default, the second kept.
func TestRedactionByWord(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	ctx := t.Context()
	mustRedact := []string{
		// The default list before words.
		"password", "passwd", "passphrase", "secret", "token", "Authorization", "cookie", "Set-Cookie",
		"api_key", "apiKey", "X-Api-Key", "private_key", "PRIVATE_KEY", "credential", "credentials",
		"session_id", "sessionid", "JSESSIONID", "signature", "X-Hub-Signature-256", "client_secret",
		"refresh_token", "access_token", "AccessToken",
		// Keys that leaked with it (issue 12, section 6).
		"auth", "Authentication", "bearer", "jwt", "pwd", "pass", "pw", "priv_key", "signing_key",
		"encryption_key", "client_key", "session", "PHPSESSID", "connect.sid", "sid", "csrf", "otp", "mfa_code",
		// Tails, case, separators, digits, plurals.
		"newpassword", "accesstoken", "newPassword", "old_password", "userPassword", "PASSWORD", "password2",
		"sslpassword", "db password", "Proxy-Authorization", "x-csrf-token", "XSRF-TOKEN", "APIKey", "XApiKey",
		"aws_secret_access_key", "id_token", "mfaCode", "passwords", "secrets", "tokens", "api_keys",
		// One-time and card codes.
		"totp", "pin", "cvv", "cvc", "recovery_code", "X-Auth",
	}
	mustKeep := []string{
		"author", "authored_by", "authority", "authenticated", "oauth_provider", "passenger", "passage",
		"passport", "compass", "bypass", "tokenizer", "secretary", "sidebar", "inside", "consider", "pinned",
		"spinner", "keyboard", "monkey", "key", "public_key", "client_id", "user_id", "id", "description",
		"amount", "sessionless", "oauth",
	}
	check := func(key string, value, want any) {
		t.Helper()
		meta, expect := redactContexts(key, value, want)
		e, err := l.Track(ctx, nil, "redaction.checked", nil, audit.WithMetadata(meta))
		require.NoError(t, err, key)
		require.Equal(t, expect, e.Metadata, key)
		got, err := l.Get(ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, expect, got.Metadata, key)
	}
	for _, k := range mustRedact {
		check(k, "value-of-"+k, audit.Redacted)
	}
	for _, k := range mustKeep {
		check(k, "value-of-"+k, "value-of-"+k)
	}

	// Numbers: kept under a key that names a count (a counting last word,
	// or a plural), redacted under one that names the secret.
	for _, k := range []string{"tokens_used", "session_count", "prompt_tokens", "completion_tokens", "total_tokens",
		"max_tokens", "password_length", "otp_attempts", "session_ttl", "pin_max", "credentials"} {
		check(k, 1200, json.Number("1200"))
	}
	for _, k := range []string{"pin", "otp", "password", "cvv", "mfa_code", "session"} {
		check(k, 123456, audit.Redacted)
	}
	// A counting word does not let a string through.
	check("tokens_used", "ghp_0123456789", audit.Redacted)
	check("session_count", "3", audit.Redacted)
	// true, false and null hold no secret.
	check("password_reset", true, true)
	check("otp_verified", false, false)
	check("cookie_consent", true, true)
	var none *string
	check("token", none, nil)
	// Objects and arrays under a secret key go whole.
	check("credentials", map[string]any{"user": "bob", "note": "x"}, audit.Redacted)
	check("session", []any{"a", "b"}, audit.Redacted)
}

// TestRedactionStructFields redacts struct fields by their JSON names,
// whatever the Go names.
func TestRedactionStructFields(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	type login struct {
		User         string `json:"user"`
		Password     string `json:"pw"`
		APIKey       string
		SessionCount int    `json:"session_count"`
		Secret       string `json:"note"` // a JSON name that names no secret
		Hidden       string `json:"-"`
	}
	e, err := l.Track(t.Context(), nil, "user.login", nil, audit.WithMeta("form", []login{{
		User: "bob", Password: "hunter2", APIKey: "k-123", SessionCount: 4, Secret: "visible", Hidden: "never",
	}}))
	require.NoError(t, err)
	require.Equal(t, []any{map[string]any{
		"user": "bob", "pw": audit.Redacted, "APIKey": audit.Redacted, "session_count": json.Number("4"), "note": "visible",
	}}, e.Metadata["form"])
}

// TestRedactionInsideStrings scrubs passwords from connection strings and
// URLs, and secret name=value pairs, in string values under any key.
func TestRedactionInsideStrings(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	for in, want := range map[string]string{
		"postgres://user:secret@host/db":                                "postgres://user:[REDACTED]@host/db",
		"postgresql://app:p%40ss@db.internal:5432/prod?sslmode=require": "postgresql://app:[REDACTED]@db.internal:5432/prod?sslmode=require",
		"mongodb+srv://admin:pa@ss@cluster0.example.net/test":           "mongodb+srv://admin:[REDACTED]@cluster0.example.net/test",
		"redis://:hunter2@cache:6379/0":                                 "redis://:[REDACTED]@cache:6379/0",
		"dial tcp: postgres://app:s3cret@db/x: connection refused":      "dial tcp: postgres://app:[REDACTED]@db/x: connection refused",
		"user=x password=secret host=y":                                 "user=x password=[REDACTED] host=y",
		"host=db user=app password='se cr\\'et' dbname=x":               "host=db user=app password=[REDACTED] dbname=x",
		"Server=tcp:db,1433;Database=x;User Id=sa;Password=secret;":     "Server=tcp:db,1433;Database=x;User Id=sa;Password=[REDACTED];",
		`Server=db;Password="a;b""c";Encrypt=true`:                      "Server=db;Password=[REDACTED];Encrypt=true",
		"Driver={ODBC Driver 18};Server=x;Uid=sa;Pwd=secret;":           "Driver={ODBC Driver 18};Server=x;Uid=sa;Pwd=[REDACTED];",
		"root:hunter2@tcp(127.0.0.1:3306)/shop?parseTime=true":          "root:[REDACTED]@tcp(127.0.0.1:3306)/shop?parseTime=true",
		"app:hunter2@/shop":                                             "app:[REDACTED]@/shop",
		"jdbc:postgresql://db:5432/x?user=app&password=secret&ssl=true": "jdbc:postgresql://db:5432/x?user=app&password=[REDACTED]&ssl=true",
		"https://app.example/cb?code=abc&access_token=xyz&state=1":      "https://app.example/cb?code=abc&access_token=[REDACTED]&state=1",
		"GET /login?user=bob&pw=hunter2 HTTP/1.1":                       "GET /login?user=bob&pw=[REDACTED] HTTP/1.1",
		// Kept as they are.
		"https://example.com/path?x=1&y=2":           "https://example.com/path?x=1&y=2",
		"ssh://git@github.com/org/repo.git":          "ssh://git@github.com/org/repo.git",
		"https://user@example.com/":                  "https://user@example.com/",
		"mailto:someone@example.com":                 "mailto:someone@example.com",
		"write to a@b.example at 10:30":              "write to a@b.example at 10:30",
		"x == y, a=b&c=d, sslmode=disable":           "x == y, a=b&c=d, sslmode=disable",
		"session_count=3 tokens_used=1200":           "session_count=3 tokens_used=1200",
		"author=jane passenger=bob":                  "author=jane passenger=bob",
		"postgres://user:[REDACTED]@host/db":         "postgres://user:[REDACTED]@host/db",
		"host=db password = secret port=5432":        "host=db password = [REDACTED] port=5432",
		"password=&user=x, token=[REDACTED]":         "password=&user=x, token=[REDACTED]",
		"the password is in the vault, not here":     "the password is in the vault, not here",
		"{\"note\": \"a JSON text is one string\"}":  "{\"note\": \"a JSON text is one string\"}",
		strings.Repeat("=", 100) + "@" + "(" + "://": strings.Repeat("=", 100) + "@" + "(" + "://",
	} {
		for _, key := range []string{"dsn", "database_url", "error", "note"} {
			e, err := l.Track(t.Context(), nil, "redaction.strings", nil, audit.WithMetadata(map[string]any{
				key:    in,
				"deep": []any{map[string]any{"x": []any{in}}},
			}))
			require.NoError(t, err, in)
			require.Equal(t, map[string]any{key: want, "deep": []any{map[string]any{"x": []any{want}}}}, e.Metadata, in)
		}
	}
}

// TestRedactionCustomKeys matches the keys given to WithRedactKeys by
// word, like the defaults; no keys turns redaction off, strings included.
func TestRedactionCustomKeys(t *testing.T) {
	t.Parallel()
	custom, _ := setup(t, audit.WithRedactKeys("ssn", "Member-Number"))
	e, err := custom.Track(t.Context(), nil, "user.updated", nil, audit.WithMetadata(map[string]any{
		"SSN": "1", "user_ssn": "2", "ssnLast4": "3", "lessons": "kept", "classname": "kept",
		"memberNumber": "4", "old_member_number": "5", "password": "not in the list",
		"note": "ssn=123-45-6789 name=bob", "dsn": "postgres://app:pw@db/x",
	}))
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"SSN": audit.Redacted, "user_ssn": audit.Redacted, "ssnLast4": audit.Redacted, "lessons": "kept", "classname": "kept",
		"memberNumber": audit.Redacted, "old_member_number": audit.Redacted, "password": "not in the list",
		"note": "ssn=[REDACTED] name=bob", "dsn": "postgres://app:[REDACTED]@db/x",
	}, e.Metadata)

	off, _ := setup(t, audit.WithRedactKeys())
	meta := map[string]any{"password": "p", "dsn": "postgres://app:pw@db/x", "note": "password=p"}
	e, err = off.Track(t.Context(), nil, "user.updated", nil, audit.WithMetadata(meta))
	require.NoError(t, err)
	require.Equal(t, meta, e.Metadata)
}

// TestDefaultRedactKeys: the exported list is what Open uses, and every
// entry of it redacts a key spelt like it.
func TestDefaultRedactKeys(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	meta := map[string]any{}
	for _, k := range audit.DefaultRedactKeys {
		meta[k] = "x"
		meta[strings.ToUpper(k)+"_2"] = "x"
	}
	e, err := l.Track(t.Context(), nil, "keys.listed", nil, audit.WithMetadata(meta))
	require.NoError(t, err)
	for k, v := range e.Metadata {
		require.Equal(t, audit.Redacted, v, k)
	}
}

// TestRedactionWorkIsLinear feeds redaction the inputs that cost quadratic
// time in a careless scanner (many name=value pairs on one line, a key of
// thousands of secret words): each takes a small multiple of the time of
// plain metadata of the same size, where quadratic work takes a hundred
// times as long. Each time is the best of three; the bound
// (40 times plain, plus a quarter second) leaves room for a machine busy
// with other jobs (the earlier 20 times plus 50 ms was tight under load).
func TestRedactionWorkIsLinear(t *testing.T) {
	t.Parallel()
	l, _ := setup(t, audit.WithMaxMetadataBytes(1<<20), audit.WithMaxEventBytes(2<<20))
	const size = 180 << 10
	best := func(meta map[string]any) time.Duration {
		var d time.Duration
		for i := range 3 {
			start := time.Now()
			_, err := l.Track(t.Context(), nil, "redaction.cost", nil, audit.WithMetadata(meta))
			require.NoError(t, err)
			if took := time.Since(start); i == 0 || took < d {
				d = took
			}
		}
		return d
	}
	plain := best(map[string]any{"note": strings.Repeat("x", size), strings.Repeat("x", size/3): 1})
	for name, meta := range map[string]map[string]any{
		"pairs":      {"note": strings.Repeat("pw=a ", size/5)},
		"semicolons": {"note": strings.Repeat("pw=a b;", size/7)},
		"dsn":        {"note": strings.Repeat("a:b@tcp(", size/8)},
		"urls":       {"note": strings.Repeat("://a:b@", size/7)},
		"key words":  {strings.Repeat("pw_", size/3): 1},
		"key camel":  {strings.Repeat("pwX", size/3): 1},
	} {
		took := best(meta)
		require.Less(t, took, 40*plain+250*time.Millisecond, "%s: %v, plain metadata %v", name, took, plain)
	}
}
