// Publishes one object over loopback multicast and receives it back, using only the installed
// public API (<condcast/condcast.hpp>). Prints the received object's JSON line.
// usage: consumer <port>   (group 239.255.41.40, interface 127.0.0.1, TTL 1)
#include <condcast/condcast.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer <port>\n");
    return 2;
  }
  try {
    const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));

    // Receive side: join the group on an explicit interface; objects arrive through callbacks.
    condcast::ReceiverOptions receiverOptions;
    receiverOptions.group = "239.255.41.40";
    receiverOptions.port = port;
    receiverOptions.interface = "127.0.0.1";
    std::optional<condcast::ReceivedObject> received;
    condcast::ReceiverEvents events;
    events.onObject = [&](condcast::ReceivedObject&& object) { received = std::move(object); };
    condcast::Receiver receiver(receiverOptions, events);

    // Send side: one object of 200 kB with CCDB metadata.
    condcast::SenderOptions senderOptions;
    senderOptions.group = receiverOptions.group;
    senderOptions.port = port;
    senderOptions.interface = "127.0.0.1";
    senderOptions.ttl = 1;
    senderOptions.heartbeatIntervalMs = 0;
    condcast::Sender sender(senderOptions);

    std::vector<std::uint8_t> payload(200'000);
    for (std::size_t i = 0; i < payload.size(); i++) payload[i] = static_cast<std::uint8_t>(i * 7);
    condcast::OutgoingObject object;
    object.payload = payload;
    object.path = "Example/Consumer/Calib";
    object.validFrom = 1700000000000;
    object.validUntil = 1700086400000;
    object.fileName = "calib.root";
    object.metadata = {{"runNumber", "523897"}};
    const condcast::SentObject sent = sender.send(object);

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!received && std::chrono::steady_clock::now() < deadline) receiver.poll(50);
    if (!received) {
      std::fprintf(stderr, "no object received: %s\n", receiver.counters().toJson().c_str());
      return 1;
    }
    const auto got = received->payload();
    if (received->id != sent.id || !std::equal(got.begin(), got.end(), payload.begin(), payload.end())) {
      std::fprintf(stderr, "received object differs from the one sent\n");
      return 1;
    }
    std::printf("%s\n", condcast::objectLine(received->id, received->senderId, received->sequence, received->meta,
                                             got.size()).c_str());
    return 0;
  } catch (const condcast::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
