package sqlcore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAppendTargets: the targets CheckDerived reads in Go are what
// json_extract reads, and any other form is left to the dialect's
// TargetsOf (false).
func TestAppendTargets(t *testing.T) {
	t.Parallel()
	ev := seqTarget{seq: 7, tenant: "acme"}
	at := func(id, typ string) seqTarget { return seqTarget{seq: 7, tenant: "acme", id: id, typ: typ} }
	for _, c := range []struct {
		text string
		want []seqTarget
	}{
		{`[{"type":"t","id":"1","name":"n"}]`, []seqTarget{at("1", "t")}},
		{`[{"type":"t","id":"1"},{"id":"2"},{"type":"u"},{"name":"n"},{}]`, []seqTarget{at("1", "t"), at("2", ""), at("", "u"), at("", ""), at("", "")}},
		{`[{"id":"1","type":"t"}]`, []seqTarget{at("1", "t")}},
		{`[{"type":"t","id":"é ✓"}]`, []seqTarget{at("é ✓", "t")}},
	} {
		got, ok := appendTargets(nil, c.text, ev)
		require.True(t, ok, c.text)
		require.Equal(t, c.want, got, c.text)
	}
	for _, text := range []string{
		``, `[]`, `{}`, `[{"type":"t"}`, `[{"type":"t"}]x`, `[{"type":"t"},]`, `[{"type":"t"}}]`,
		`[{"id":"a\"b"}]`, `[{"id":"a\u0000"}]`, "[{\"id\":\"a\tb\"}]", `[{"id":1}]`, `[{"id":null}]`,
		`[{"id":"1","id":"2"}]`, `[{"other":"x"}]`, `[{"type":"t" ,"id":"1"}]`, `[ {"id":"1"}]`, `["1"]`,
		`[{"id":"1"}`, `[{"id":"1}]`, `[{"id":"1",}]`, `[{"id""1"}]`,
	} {
		_, ok := appendTargets(nil, text, ev)
		require.False(t, ok, text)
	}
}
