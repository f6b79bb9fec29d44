// Command etcd is etcd's own entry point (etcdmain), at the version
// k8s.io/kubernetes v1.34.2 tests against; the etcd module's main package
// lives in a module of its own, so this wrapper keeps one go.mod.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
