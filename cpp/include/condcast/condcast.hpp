// condcast: real-time distribution of conditions objects over UDP multicast (spec/SPEC.md).
//
// The umbrella header. Main entry points:
//  - condcast::Sender   (sender.hpp): publish objects, lifecycle changes, heartbeats.
//  - condcast::Receiver (receiver.hpp): join a group, receive and verify complete objects.
//  - codec pieces for tests and tools: ObjectEncoder, DatagramDecoder, FragmentView, Reassembler.
// Errors: setup failures throw condcast::Error; per-datagram outcomes are DropReason values.
#pragma once

#include "condcast/auth.hpp"
#include "condcast/changeset_stager.hpp"
#include "condcast/constants.hpp"
#include "condcast/control.hpp"
#include "condcast/counters.hpp"
#include "condcast/decoder.hpp"
#include "condcast/error.hpp"
#include "condcast/fec.hpp"
#include "condcast/fragment.hpp"
#include "condcast/ids.hpp"
#include "condcast/json.hpp"
#include "condcast/object.hpp"
#include "condcast/object_encoder.hpp"
#include "condcast/partial_object.hpp"
#include "condcast/reassembler.hpp"
#include "condcast/reasons.hpp"
#include "condcast/receiver.hpp"
#include "condcast/sender.hpp"
#include "condcast/sequence_tracker.hpp"
#include "condcast/socket.hpp"
