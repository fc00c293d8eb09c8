package cluster_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/sessiond/sessiond/cluster"
)

// A Go program's own store joins a cluster of sessiond servers as a peer:
// it holds every session and its writes reach every node.
func ExampleOpen() {
	store, node, err := cluster.Open(context.Background(), cluster.Config{
		NodeName: "app-1",
		BindAddr: "127.0.0.1:0", // gossip; a free port here
		// Join: []string{"127.0.0.1:7946"}, // a sessiond's --cluster-addr
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	defer node.Leave(5 * time.Second) // hand over, say goodbye, before the store closes

	if err := store.Set("sess:4f2a", []byte(`{"user":42}`), 30*time.Minute); err != nil {
		log.Fatal(err)
	}
	value, _, _ := store.Get("sess:4f2a")
	fmt.Println(string(value), node.Ready())
	// Output: {"user":42} true
}
