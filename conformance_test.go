package sessiond_test

import (
	"testing"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		st, err := sessiond.Open(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

// versioned is a store with the Apply and Load of its Replica, as
// storetest.Versioned has them.
type versioned struct {
	*sessiond.Store
	sessiond.Replica
}

func TestConformanceVersioned(t *testing.T) {
	storetest.RunVersioned(t, func(t *testing.T) storetest.Versioned {
		st, err := sessiond.Open(&sessiond.Options{Tombstones: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return versioned{st, st.Replica()}
	})
}
