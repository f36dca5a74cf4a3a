package proxy

import "testing"

// TestWithNonce: a nonced loader tag gets an absolute src on the page's
// origin, so an injected <base href> cannot move the nonced request.
func TestWithNonce(t *testing.T) {
	for _, tt := range []struct{ tag, self, want string }{
		{`<script src="/__cobrowse/bootstrap.js?v=1a"></script>`, "https://shop.example",
			`<script src="https://shop.example/__cobrowse/bootstrap.js?v=1a" nonce="N0nce"></script>`},
		{`<script src="/__cobrowse/bootstrap.js?v=1a&amp;frame=1"></script>`, "http://a.localhost:8080",
			`<script src="http://a.localhost:8080/__cobrowse/bootstrap.js?v=1a&amp;frame=1" nonce="N0nce"></script>`},
		// The origin is the client's Host: escaped like any attribute value.
		{`<script src="/p/bootstrap.js"></script>`, `https://x"><b>`,
			`<script src="https://x&#34;&gt;&lt;b&gt;/p/bootstrap.js" nonce="N0nce"></script>`},
		// Already absolute (or protocol-relative): left as it is.
		{`<script src="https://cdn.example/b.js"></script>`, "https://shop.example",
			`<script src="https://cdn.example/b.js" nonce="N0nce"></script>`},
		{`<script src="//cdn.example/b.js"></script>`, "https://shop.example",
			`<script src="//cdn.example/b.js" nonce="N0nce"></script>`},
		{`<b>not a tag</b>`, "https://shop.example", `<b>not a tag</b>`},
	} {
		if got := string(withNonce([]byte(tt.tag), "N0nce", tt.self)); got != tt.want {
			t.Errorf("withNonce(%s, %s)\n got %s\nwant %s", tt.tag, tt.self, got, tt.want)
		}
	}
}

// TestWithNonceEdges: tags at the edges of what withNonce handles get the
// nonce all the same: the closing "></script>" or the src at the very
// start, a src="/ right before the end, an origin or a nonce longer than
// the tag.
func TestWithNonceEdges(t *testing.T) {
	const longSelf = "https://a-rather-long-host-name-for-a-shop-that-goes-on-and-on.example"
	const longNonce = "bG9uZy1ub25jZS1sb25nLW5vbmNlLWxvbmctbm9uY2UtbG9uZy1ub25jZS1sb25nLW5vbmNlLWxvbmc="
	for _, tt := range []struct{ tag, nonce, self, want string }{
		{`></script>`, "N0nce", "https://s", ` nonce="N0nce"></script>`},
		{`<a></script>`, "N0nce", "https://s", `<a nonce="N0nce"></script>`},
		{`src="/b.js"></script>`, "N0nce", "https://s", `src="https://s/b.js" nonce="N0nce"></script>`},
		{`<script src="/></script>`, "N0nce", "https://s", `<script src="https://s/ nonce="N0nce"></script>`},
		{`<script src="/a"></script>`, "N", longSelf, `<script src="` + longSelf + `/a" nonce="N"></script>`},
		{`<script src="/a"></script>`, longNonce, "https://s", `<script src="https://s/a" nonce="` + longNonce + `"></script>`},
		{`<script></script>src="/a"`, "N0nce", "https://s", `<script nonce="N0nce"></script>src="/a"`},
	} {
		if got := string(withNonce([]byte(tt.tag), tt.nonce, tt.self)); got != tt.want {
			t.Errorf("withNonce(%s, %s, %s)\n got %s\nwant %s", tt.tag, tt.nonce, tt.self, got, tt.want)
		}
	}
}
