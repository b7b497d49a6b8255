package sandbox

import (
	"fmt"
	"net/http"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// Volume limits, as Hetzner's.
const (
	minVolumeSize    = 10
	maxVolumeSize    = 10240
	maxServerVolumes = 16
)

func (s *Server) volumeSchema(v *volume) schema.Volume {
	out := schema.Volume{ID: v.ID, Name: v.Name, Status: "available", Location: *findLocation(v.Location), Size: v.Size,
		Protection: schema.VolumeProtection{Delete: v.ProtDelete}, Labels: nonNilMap(v.Labels), Created: v.Created,
		LinuxDevice: fmt.Sprintf("/dev/disk/by-id/scsi-0HC_Volume_%d", v.ID)}
	if v.Server != 0 {
		id := v.Server
		out.Server = &id
	}
	if v.Format != "" {
		f := v.Format
		out.Format = &f
	}
	if s.resLocked("volume", v.ID) && v.Created.Add(s.opts.ActionDuration).After(s.now()) {
		out.Status = "creating"
	}
	return out
}

func (s *Server) listVolumes(r *http.Request) (int, any, *apiError) {
	var all []schema.Volume
	for _, id := range sortedKeys(s.st.Volumes) {
		all = append(all, s.volumeSchema(s.st.Volumes[id]))
	}
	return listPaged(r, all, func(v schema.Volume) string { return v.Name }, func(v schema.Volume) map[string]string { return v.Labels }, nil,
		func(p []schema.Volume, m schema.Meta) any {
			return struct {
				schema.VolumeListResponse
				Meta schema.Meta `json:"meta"`
			}{schema.VolumeListResponse{Volumes: p}, m}
		})
}

// checkAttach checks that v can be attached to srv.
func (s *Server) checkAttach(v *volume, srv *server) *apiError {
	if v.Server != 0 {
		return errCode(http.StatusConflict, "volume_already_attached", "volume is already attached to server "+itoa(v.Server))
	}
	if srv.Location != v.Location {
		return errInvalid("server", "volume and server must be in the same location (volume "+v.Location+", server "+srv.Location+")")
	}
	n := 0
	for _, o := range s.st.Volumes {
		if o.Server == srv.ID {
			n++
		}
	}
	if n >= maxServerVolumes {
		return errCode(http.StatusForbidden, "resource_limit_exceeded", fmt.Sprintf("a server can have at most %d volumes", maxServerVolumes))
	}
	return nil
}

func (s *Server) createVolume(r *http.Request) (int, any, *apiError) {
	var req schema.VolumeCreateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkName(req.Name); aerr != nil {
		return 0, nil, aerr
	}
	if req.Size < minVolumeSize || req.Size > maxVolumeSize {
		return 0, nil, errInvalid("size", fmt.Sprintf("must be between %d and %d GB", minVolumeSize, maxVolumeSize))
	}
	if req.Format != nil && *req.Format != "ext4" && *req.Format != "xfs" {
		return 0, nil, errInvalid("format", "must be ext4 or xfs")
	}
	if aerr := checkLabels(req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if (req.Server == nil) == (req.Location == nil) {
		return 0, nil, errInvalid("location", "give exactly one of server and location")
	}
	if req.Automount != nil && *req.Automount && req.Server == nil {
		return 0, nil, errInvalid("automount", "needs server")
	}
	if nameInUse(s.st.Volumes, req.Name, 0) {
		return 0, nil, errUnique("name")
	}
	v := &volume{ID: s.st.NextOtherID, Name: req.Name, Size: req.Size, Labels: labelsOf(req.Labels), Created: s.created()}
	if req.Format != nil {
		v.Format = *req.Format
	}
	var srv *server
	if req.Server != nil {
		if srv = s.st.Servers[*req.Server]; srv == nil {
			return 0, nil, errNotFound("server")
		}
		v.Location = srv.Location
		if aerr := s.checkAttach(v, srv); aerr != nil {
			return 0, nil, aerr
		}
	} else {
		loc := findLocation(req.Location.Name)
		if req.Location.ID != 0 {
			loc = findLocation(itoa(req.Location.ID))
		}
		if loc == nil {
			return 0, nil, errInvalid("location", "location not found")
		}
		v.Location = loc.Name
	}
	s.nextID()
	s.st.Volumes[v.ID] = v
	resp := schema.VolumeCreateResponse{NextActions: []schema.Action{}}
	a := s.actionSchema(s.resAction("create_volume", ref("volume", v.ID)))
	resp.Action = &a
	if srv != nil {
		v.Server = srv.ID
		resp.NextActions = append(resp.NextActions, s.actionSchema(s.resAction("attach_volume", ref("volume", v.ID), ref("server", srv.ID))))
	}
	resp.Volume = s.volumeSchema(v)
	return http.StatusCreated, resp, nil
}

func (s *Server) lookupVolume(r *http.Request) (*volume, *apiError) {
	return lookup(r, s.st.Volumes, "volume")
}

func (s *Server) getVolume(r *http.Request) (int, any, *apiError) {
	v, aerr := s.lookupVolume(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, schema.VolumeGetResponse{Volume: s.volumeSchema(v)}, nil
}

func (s *Server) updateVolume(r *http.Request) (int, any, *apiError) {
	v, aerr := s.lookupVolume(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	var req schema.VolumeUpdateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkUpdate(s.st.Volumes, v.ID, optName(req.Name), req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if req.Name != "" {
		v.Name = req.Name
	}
	setLabels(&v.Labels, req.Labels)
	return http.StatusOK, schema.VolumeUpdateResponse{Volume: s.volumeSchema(v)}, nil
}

func (s *Server) deleteVolume(r *http.Request) (int, any, *apiError) {
	v, aerr := s.lookupVolume(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	if v.ProtDelete {
		return 0, nil, errProtected("volume")
	}
	if v.Server != 0 {
		return 0, nil, errCode(http.StatusLocked, "locked", "volume is attached to server "+itoa(v.Server)+": detach it first")
	}
	if s.resLocked("volume", v.ID) {
		return 0, nil, errLocked()
	}
	delete(s.st.Volumes, v.ID)
	return http.StatusNoContent, nil, nil
}

func (s *Server) volumeAction(r *http.Request) (int, any, *apiError) {
	v, aerr := s.lookupVolume(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	type result struct {
		Action schema.Action `json:"action"`
	}
	if s.resLocked("volume", v.ID) {
		return 0, nil, errLocked()
	}
	refs := []schema.ActionResourceReference{ref("volume", v.ID)}
	var command string
	switch r.PathValue("cmd") {
	case "attach":
		var req schema.VolumeActionAttachVolumeRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		srv := s.st.Servers[req.Server]
		if srv == nil {
			return 0, nil, errNotFound("server")
		}
		if aerr := s.checkAttach(v, srv); aerr != nil {
			return 0, nil, aerr
		}
		v.Server = srv.ID
		command, refs = "attach_volume", append(refs, ref("server", srv.ID))
	case "detach":
		var req schema.VolumeActionDetachVolumeRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		if v.Server == 0 {
			return 0, nil, errInvalid("server", "volume is not attached")
		}
		command, refs = "detach_volume", append(refs, ref("server", v.Server))
		v.Server = 0
	case "resize":
		var req schema.VolumeActionResizeVolumeRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		if req.Size <= v.Size || req.Size > maxVolumeSize {
			return 0, nil, errInvalid("size", fmt.Sprintf("must be more than the current %d GB and at most %d GB", v.Size, maxVolumeSize))
		}
		v.Size, command = req.Size, "resize_volume"
	case "change_protection":
		var req schema.VolumeActionChangeProtectionRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		if req.Delete != nil {
			v.ProtDelete = *req.Delete
		}
		command = "change_protection"
	default:
		return 0, nil, errNotFound("volume action " + r.PathValue("cmd"))
	}
	return http.StatusCreated, result{s.actionSchema(s.resAction(command, refs...))}, nil
}
