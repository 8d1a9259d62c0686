package signaling

import (
	"context"
	"time"

	"peerdesk/store"
)

// Store is the part of *store.Store the server uses.
type Store interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Authenticate(ctx context.Context, username, password string) (store.User, error)
	CreateLoginSession(ctx context.Context, id store.UserID, ttl time.Duration) (string, error)
	UserBySessionToken(ctx context.Context, token string) (store.User, error)
	DeleteLoginSession(ctx context.Context, token string) error
	ConnectionByAgentToken(ctx context.Context, token string) (store.Connection, error)
	ConnectionsFor(ctx context.Context, u store.User) ([]store.Connection, error)
	CanUse(ctx context.Context, u store.User, id store.ConnectionID) (bool, error)
	Connection(ctx context.Context, id store.ConnectionID) (store.Connection, error)
	CreateConnection(ctx context.Context, name string) (store.Connection, string, error)
	DeleteConnection(ctx context.Context, id store.ConnectionID) error
	RotateAgentToken(ctx context.Context, id store.ConnectionID) (string, error)

	Users(ctx context.Context) ([]store.User, error)
	User(ctx context.Context, id store.UserID) (store.User, error)
	UserGrants(ctx context.Context) (map[store.UserID][]store.ConnectionID, error)
	CreateUser(ctx context.Context, username, password string, admin bool) (store.User, error)
	SetAdmin(ctx context.Context, id store.UserID, admin bool) (store.User, error)
	SetPassword(ctx context.Context, id store.UserID, password string) error
	DeleteUser(ctx context.Context, id store.UserID) error
	Grant(ctx context.Context, uid store.UserID, cid store.ConnectionID) error
	Revoke(ctx context.Context, uid store.UserID, cid store.ConnectionID) error

	CreateProfile(ctx context.Context, p store.SharingProfile) (store.SharingProfile, error)
	UpdateProfile(ctx context.Context, p store.SharingProfile) (store.SharingProfile, error)
	DeleteProfile(ctx context.Context, id store.ProfileID) ([]store.LinkID, error)
	CloneProfile(ctx context.Context, id store.ProfileID, name string) (store.SharingProfile, error)
	Profile(ctx context.Context, id store.ProfileID) (store.SharingProfile, error)
	Profiles(ctx context.Context, conn store.ConnectionID) ([]store.SharingProfile, error)

	StartLiveSession(ctx context.Context, id string, conn store.ConnectionID, owner store.UserID) error
	EndLiveSession(ctx context.Context, id string, reason string) error
	EndAllLiveSessions(ctx context.Context, reason string) (int, error)

	CreateShareLink(ctx context.Context, session string, profile store.ProfileID, by store.UserID) (store.ShareLink, string, error)
	ShareLinkByKey(ctx context.Context, key string) (store.ShareLink, store.SharingProfile, error)
	ShareLink(ctx context.Context, id store.LinkID) (store.ShareLink, error)
	ShareLinks(ctx context.Context, session string) ([]store.ShareLink, error)
	RevokeShareLink(ctx context.Context, id store.LinkID) (store.ShareLink, error)
	ClaimShareLink(ctx context.Context, id store.LinkID) error

	historyStore
	recordingStore
	clusterStore
}

// clusterStore is the part of Store that places live sessions on cluster nodes (cluster.go).
type clusterStore interface {
	Node() string
	ClaimHome(ctx context.Context, conn store.ConnectionID, node string) (string, error)
	ReleaseHome(ctx context.Context, conn store.ConnectionID, node string) error
	Homes(ctx context.Context, node string) ([]store.ConnectionID, error)
	LiveSessionNode(ctx context.Context, id string) (node string, live bool, err error)
	NodesInUse(ctx context.Context) ([]string, error)
	EndNode(ctx context.Context, node, reason string) (int, error)
	NodeAlive(ctx context.Context, node string) (bool, error)
	CheckClaim(ctx context.Context) error
	NodeLiveSessions(ctx context.Context, node string) ([]string, error)
}

// recordingStore is the part of Store that indexes session recordings.
type recordingStore interface {
	SetRecording(ctx context.Context, id store.ConnectionID, record, keys bool) (store.Connection, error)
	CreateRecording(ctx context.Context, rec store.Recording) (store.Recording, error)
	UpdateRecording(ctx context.Context, id store.RecordingID, size int64, ended time.Time) error
	Recording(ctx context.Context, id store.RecordingID) (store.Recording, error)
	Recordings(ctx context.Context) ([]store.Recording, error)
	DeleteRecording(ctx context.Context, id store.RecordingID) error
}
