package web

import (
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"testing"
)

// TestBootstrapSize logs the script's size (go test -v -run Size) and keeps
// it small: the widget is part of it.
func TestBootstrapSize(t *testing.T) {
	b, err := NewBootstrap(BootstrapConfig{
		SDKURL: "https://us01-zcb.zoom.us/static/resource/sdk/KEY/js/3.6.0",
		Prefix: "/__cobrowse",
		Widget: Widget{Enabled: true, Position: "bottom-right", Label: "Get help"},
	}, encoding.New(encoding.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	plain, gz := b.Size()
	t.Logf("bootstrap.js with the widget: %d bytes, %d gzipped", plain, gz)
	if gz > 10<<10 {
		t.Errorf("bootstrap.js is %d bytes gzipped; keep it under 10 KiB", gz)
	}
}
