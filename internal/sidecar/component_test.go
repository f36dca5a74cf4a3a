package sidecar

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The kustomize components in deploy/components add the same container
// and volume as Mutate (default options, an app on port 8080, the
// component's documented default): these tests stop the two drifting.

func readComponent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "components", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestComponentMatchesSidecar(t *testing.T) {
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := yaml.Unmarshal(readComponent(t, "sidecar/container-patch.yaml"), &ops); err != nil {
		t.Fatal(err)
	}
	var got *corev1.Container
	for _, o := range ops {
		if o.Op == "add" && o.Path == "/spec/template/spec/containers/-" {
			got = new(corev1.Container)
			if err := yaml.UnmarshalStrict(o.Value, got); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got == nil {
		t.Fatal("container-patch.yaml adds no container")
	}
	want := Container(Options{}, 8080)
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("component container:\n%+v\nsidecar.Container:\n%+v", *got, want)
	}

	var vp appsv1.Deployment
	if err := yaml.UnmarshalStrict(readComponent(t, "sidecar/volume-patch.yaml"), &vp); err != nil {
		t.Fatal(err)
	}
	assertVolumeAndStatus(t, vp)
}

func TestNativeComponentMatchesSidecar(t *testing.T) {
	var p appsv1.Deployment
	if err := yaml.UnmarshalStrict(readComponent(t, "native-sidecar/sidecar-patch.yaml"), &p); err != nil {
		t.Fatal(err)
	}
	want := Container(Options{}, 8080)
	always := corev1.ContainerRestartPolicyAlways
	want.RestartPolicy = &always
	if ic := p.Spec.Template.Spec.InitContainers; len(ic) != 1 || !reflect.DeepEqual(ic[0], want) {
		t.Errorf("native component initContainers:\n%+v\nwant:\n%+v", ic, want)
	}
	assertVolumeAndStatus(t, p)
}

func assertVolumeAndStatus(t *testing.T, d appsv1.Deployment) {
	t.Helper()
	if v := d.Spec.Template.Spec.Volumes; len(v) != 1 || !reflect.DeepEqual(v[0], Volume(DefaultConfigMap, DefaultSecret)) {
		t.Errorf("component volumes:\n%+v\nwant:\n%+v", v, Volume(DefaultConfigMap, DefaultSecret))
	}
	if s := d.Spec.Template.Annotations[AnnotationStatus]; s != StatusInjected {
		t.Errorf("component status annotation %q, want %q", s, StatusInjected)
	}
}
