package csp

import "testing"

// TestMergeLoader: how the loader tag is let through, at the edges of the
// rules in loader.go: which list governs it, which nonce it carries, and
// when a fresh nonce is accepted.
func TestMergeLoader(t *testing.T) {
	const nonce16 = "QUJDREVGR0hJSktM" // 16 base64 characters, the least accepted
	tests := []mergeCase{
		{
			name:    "a fresh nonce of exactly 16 characters is accepted",
			in:      "script-src 'strict-dynamic'; base-uri 'none'",
			opts:    func(o *MergeOptions) { o.NewNonce = func() string { return nonce16 } },
			want:    "script-src 'strict-dynamic' https://*.zoom.us 'nonce-" + nonce16 + "'; base-uri 'none'",
			nonce:   nonce16,
			outcome: OutcomeNonceUsed,
		},
		{
			name:    "a fresh nonce of 15 characters is refused",
			in:      "script-src 'strict-dynamic'; base-uri 'none'",
			opts:    func(o *MergeOptions) { o.NewNonce = func() string { return nonce16[:15] } },
			want:    "script-src 'strict-dynamic'; base-uri 'none'",
			outcome: OutcomeSkipped,
		},
		{
			name:    "base-uri as the first directive counts",
			in:      "base-uri 'none'; script-src 'strict-dynamic'",
			want:    "base-uri 'none'; script-src 'strict-dynamic' https://*.zoom.us 'nonce-" + freshNonce + "'",
			nonce:   freshNonce,
			outcome: OutcomeNonceUsed,
		},
		{
			name:    "default-src first and no script-src in Sources: script-src made from it for the loader",
			in:      "default-src 'none'",
			opts:    func(o *MergeOptions) { o.Sources = Sources{"img-src": {"https://*.zoom.us"}} },
			want:    "default-src 'none'; img-src https://*.zoom.us; script-src https://shop.example.com/__cobrowse/; connect-src https://shop.example.com/__cobrowse/",
			outcome: OutcomeMerged,
		},
		{
			name:    "default-src later and no script-src in Sources: the same",
			in:      "img-src 'self'; default-src 'none'",
			opts:    func(o *MergeOptions) { o.Sources = Sources{"img-src": {"https://*.zoom.us"}} },
			want:    "img-src 'self' https://*.zoom.us; default-src 'none'; script-src https://shop.example.com/__cobrowse/; connect-src https://shop.example.com/__cobrowse/",
			outcome: OutcomeMerged,
		},
		{
			name:    "'self' with a page nonce: the tag carries it although it needs none",
			in:      "script-src 'self' 'nonce-abc'",
			want:    "script-src 'self' 'nonce-abc' https://*.zoom.us; worker-src 'self' 'nonce-abc' https://*.zoom.us blob:",
			nonce:   "abc",
			outcome: OutcomeNonceUsed,
		},
		{
			name:    "'self' with a page nonce, and a second policy with 'self' only: the page nonce still",
			in:      "script-src 'self' 'nonce-abc', script-src 'self'",
			want:    "script-src 'self' 'nonce-abc' https://*.zoom.us; worker-src 'self' 'nonce-abc' https://*.zoom.us blob:, script-src 'self' https://*.zoom.us; worker-src 'self' https://*.zoom.us blob:",
			nonce:   "abc",
			outcome: OutcomeNonceUsed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			if tt.opts != nil {
				tt.opts(&o)
			}
			r := MergeHeader(tt.in, o)
			if r.Value != tt.want {
				t.Errorf("value\n got: %s\nwant: %s", r.Value, tt.want)
			}
			if r.Nonce != tt.nonce {
				t.Errorf("nonce %q, want %q", r.Nonce, tt.nonce)
			}
			if r.Outcome != tt.outcome {
				t.Errorf("outcome %s, want %s (%s)", r.Outcome, tt.outcome, r.Reason)
			}
			checkMerge(t, tt.in, r, o, false)
		})
	}
}
