// Builds the real Dapr runtime (daprd, placement, scheduler) from Dapr's
// published Go modules, pinned: see build.sh and `make dapr-runtime`.
module order-saga/dapr-runtime

go 1.26.5

require github.com/dapr/dapr v1.18.2

// build.sh copies the module out of the module cache into .build/dapr, because
// Go refuses -overlay on files beneath GOMODCACHE; the overlay swaps daprd's
// component list (components.go.txt) for the few this project uses.
replace github.com/dapr/dapr => ./.build/dapr

// Dapr's own replace directives (go.mod of v1.18.2): a dependency's go.mod
// cannot impose them, so the main module repeats them.
replace (
	dubbo.apache.org/dubbo-go/v3 => dubbo.apache.org/dubbo-go/v3 v3.0.3-0.20230118042253-4f159a2b38f3
	github.com/chenzhuoyu/iasm => github.com/chenzhuoyu/iasm v0.9.0
	github.com/chzyer/logex => github.com/chzyer/logex v1.2.1
	github.com/gobwas/pool => github.com/gobwas/pool v0.2.1
	github.com/toolkits/concurrent => github.com/niean/gotools v0.0.0-20151221085310-ff3f51fc5c60
	gopkg.in/couchbaselabs/gocbconnstr.v1 => github.com/couchbaselabs/gocbconnstr v1.0.5
)
