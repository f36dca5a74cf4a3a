// Command etcd is etcd's own server (etcdmain, as in etcd's release
// binary), built here so the API-server tests get the etcd that
// k8s.io/kubernetes itself requires instead of an older distribution
// package.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
