// Queue manager: scheduling, delivery workers, retries, bounces. The scheduler ("queue" thread)
// only picks due messages; workers ("deliver") do the network work. Never throws to its callers.
#include "tlsgate/gateway/queue_manager.h"

#include <Poco/Logger.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "tlsgate/certmgr/certificate.h"
#include "tlsgate/gateway/smtp_protocol.h"

namespace tlsgate::gateway {

namespace {

/// How often the scheduler looks for a flush request (and the longest it sleeps).
constexpr auto kScanInterval = std::chrono::seconds(1);
/// How often the schedule is checked against the spool directory (messages it never heard of).
constexpr auto kRescanInterval = std::chrono::seconds(60);
constexpr const char* kFlushRequest = "flush";

std::string randomHex(std::size_t bytes) {
    std::vector<unsigned char> data(bytes);
    if (RAND_bytes(data.data(), static_cast<int>(data.size())) != 1) {
        certmgr::drainOpensslErrors();
    }
    static const char* const kHex = "0123456789abcdef";
    std::string out;
    for (unsigned char b : data) {
        out += kHex[b >> 4];
        out += kHex[b & 0x0f];
    }
    return out;
}

/// The enhanced status code at the start of a reply or reason ("5.1.1" of "550 5.1.1 ..."),
/// or `fallback`.
std::string statusOf(const std::string& reply, const std::string& fallback) {
    std::size_t start = 0;
    if (reply.size() > 4 && std::isdigit(static_cast<unsigned char>(reply[0])) != 0 &&
        reply[3] == ' ') {
        start = 4;
    }
    const std::size_t end = reply.find(' ', start);
    const std::string token = reply.substr(start, end == std::string::npos ? end : end - start);
    int dots = 0;
    bool ok = token.size() >= 5 && (token[0] == '2' || token[0] == '4' || token[0] == '5');
    for (char c : token) {
        if (c == '.') {
            ++dots;
        } else if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
            ok = false;
        }
    }
    return ok && dots == 2 ? token : fallback;
}

}  // namespace

Router makeRouter(const GatewayConfig& config) {
    const std::string label = config.sourceFile.empty() ? "(built-in defaults)" : config.sourceFile;
    std::map<std::string, RouteTarget> routes;
    for (const auto& [domain, target] : config.send.routes) {
        const auto parsed = RouteTarget::parse(target);
        if (!parsed) {
            throw ConfigError(label + ": send.routes = " + domain + "=" + target +
                              ": expected a target host, host:port, [host], [host]:port or "
                              "[IPv6]:port");
        }
        routes.emplace(domain, *parsed);
    }
    std::optional<RouteTarget> defaultRoute;
    if (!config.send.defaultRoute.empty()) {
        defaultRoute = RouteTarget::parse(config.send.defaultRoute);
        if (!defaultRoute) {
            throw ConfigError(label + ": send.default_route = " + config.send.defaultRoute +
                              ": expected host, host:port, [host], [host]:port or [IPv6]:port");
        }
    }
    return Router(std::move(routes), std::move(defaultRoute));
}

std::string makeDsn(const GatewayConfig& config, const SpooledMessage& message,
                    const std::string& originalContent,
                    const std::vector<std::pair<std::string, std::string>>& failed, TimePoint now) {
    const std::string& host = config.gateway.hostname;
    const std::string boundary = "tlsgate-dsn-" + randomHex(8);
    std::string dsn;
    dsn += "From: Mail Delivery System <MAILER-DAEMON@" + host + ">\r\n";
    dsn += "To: <" + message.envelope.sender + ">\r\n";
    dsn += "Subject: Undelivered Mail Returned to Sender\r\n";
    dsn += "Date: " + smtp::rfc5322Date(now) + "\r\n";
    dsn += "Message-ID: <" + message.queueId + "." + randomHex(4) + "@" + host + ">\r\n";
    dsn += "Auto-Submitted: auto-replied\r\n";
    dsn += "MIME-Version: 1.0\r\n";
    dsn += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" +
           boundary + "\"\r\n\r\n";
    dsn += "This is a MIME-encapsulated message.\r\n\r\n--" + boundary + "\r\n";
    dsn += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
    dsn += "This is the mail system at host " + host + ".\r\n\r\n";
    dsn += "Your message could not be delivered to one or more recipients.\r\n\r\n";
    for (const auto& [recipient, reply] : failed) {
        dsn += "<" + recipient + ">: " + reply + "\r\n";
    }
    dsn += "\r\n--" + boundary + "\r\nContent-Type: message/delivery-status\r\n\r\n";
    dsn += "Reporting-MTA: dns; " + host + "\r\n";
    dsn += "X-Tlsgate-Queue-ID: " + message.queueId + "\r\n";
    dsn += "Arrival-Date: " + smtp::rfc5322Date(message.envelope.received) + "\r\n";
    for (const auto& [recipient, reply] : failed) {
        dsn += "\r\nFinal-Recipient: rfc822; " + recipient + "\r\n";
        dsn += "Action: failed\r\n";
        dsn += "Status: " + statusOf(reply, "5.0.0") + "\r\n";
        dsn += "Diagnostic-Code: smtp; " + reply + "\r\n";
    }
    dsn += "\r\n--" + boundary + "\r\nContent-Type: text/rfc822-headers\r\n\r\n";
    const std::size_t headersEnd = originalContent.find("\r\n\r\n");
    dsn += originalContent.substr(
        0, headersEnd == std::string::npos ? originalContent.size() : headersEnd + 2);
    dsn += "\r\n--" + boundary + "--\r\n";
    return dsn;
}

QueueManager::QueueManager(std::shared_ptr<const GatewayConfig> config, Spool& spool, Router router,
                           ClientTlsContextHolder& tls, EventBus& bus, const Clock& clock,
                           Counters* counters)
    : config_(std::move(config)),
      settings_(config_->send),
      spool_(spool),
      router_(std::move(router)),
      tls_(tls),
      connections_(settings_.connectionCacheTime.count() > 0
                       ? std::make_unique<ConnectionCache>(ConnectionCache::Limits{
                             settings_.connectionCacheTime, settings_.connectionReuseLimit,
                             static_cast<std::size_t>(settings_.workers)})
                       : nullptr),
      bus_(bus),
      clock_(clock),
      counters_(counters),
      log_(Poco::Logger::get("tlsgate.queue")) {}

void QueueManager::count(Counters::Counter Counters::*counter, std::uint64_t n) const {
    if (counters_ != nullptr) {
        (counters_->*counter).fetch_add(n, std::memory_order_relaxed);
    }
}

void QueueManager::countAttempt(const DeliveryResult& r) const {
    if (!r.connected || r.reused) {
        return;  // a reused connection was counted when it was made
    }
    count(&Counters::outboundConnections);
    if (r.tlsUsed) {
        count(&Counters::outboundStartTlsUsed);
        if (!(r.tlsFacts.chainVerified && r.tlsFacts.nameMatched)) {
            count(&Counters::outboundVerificationFailures);
        }
    }
    if (!r.tlsFacts.startTlsOffered) {
        count(&Counters::outboundStartTlsNotOffered);
    }
    if (r.tlsFacts.handshakeAttempted && !r.tlsFacts.handshakeOk) {
        count(&Counters::outboundHandshakesFailed);
    }
}

void QueueManager::publishAttempt(const SpooledMessage& message, const DeliveryResult& r) {
    if (!r.connected || r.reused) {
        // The Deferred event that follows carries a connect error; a reused connection's
        // connection and handshake events were published when it was made.
        return;
    }
    publish(TlsSessionEventKind::Connected, message, {}, &r);
    if (r.tlsFacts.startTlsOffered) {
        publish(TlsSessionEventKind::StartTlsOffered, message, {}, &r);
    }
    if (r.tlsFacts.handshakeAttempted) {
        publish(r.tlsFacts.handshakeOk ? TlsSessionEventKind::HandshakeSucceeded
                                       : TlsSessionEventKind::HandshakeFailed,
                message,
                r.tlsFacts.handshakeOk
                    ? (r.tlsFacts.chainVerified && r.tlsFacts.nameMatched
                           ? std::string("verified")
                           : "not verified: " + (r.tlsFacts.chainVerified
                                                     ? std::string("hostname mismatch")
                                                     : r.tlsFacts.verifyError))
                    : r.tlsFacts.handshakeError,
                &r);
    }
    if (r.policyDeferred) {
        publish(TlsSessionEventKind::PolicyDecision, message, r.reason, &r, "tls-policy");
    }
}

QueueManager::~QueueManager() {
    stop();
}

void QueueManager::start() {
    std::lock_guard lock(mutex_);
    if (scheduler_.joinable()) {
        return;
    }
    stopping_ = false;
    running_ = true;
    rescanDue_ = true;
    scheduler_ = std::thread([this] { schedulerLoop(); });
    pthread_setname_np(scheduler_.native_handle(), "queue");
    for (int i = 0; i < settings_.workers; ++i) {
        workers_.emplace_back([this, i] { workerLoop(i); });
        pthread_setname_np(workers_.back().native_handle(), "deliver");
    }
}

void QueueManager::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        running_ = false;
        for (const auto& id : jobs_) {
            inFlight_.erase(id);  // never started: due again after a restart of the manager
        }
        jobs_.clear();
    }
    wake_.notify_all();
    jobsReady_.notify_all();
    if (scheduler_.joinable()) {
        scheduler_.join();
    }
    for (auto& worker : workers_) {
        if (worker.joinable()) {
            worker.join();
        }
    }
    workers_.clear();
    if (connections_) {
        connections_->clear();  // QUIT to every idle next-hop connection
    }
}

void QueueManager::queued(const std::string& queueId) {
    {
        std::lock_guard lock(mutex_);
        schedule_[queueId] = TimePoint{};
        if (!running_ || !inFlight_.insert(queueId).second) {
            return;
        }
        jobs_.push_back(queueId);
    }
    jobsReady_.notify_one();
}

void QueueManager::wake() {
    {
        std::lock_guard lock(mutex_);
        wakeRequested_ = true;
    }
    wake_.notify_all();
}

void QueueManager::flush() {
    for (const auto& message : spool_.list()) {
        {
            // A message being delivered right now is left alone: its worker writes its state.
            std::lock_guard lock(mutex_);
            if (inFlight_.count(message.queueId) != 0) {
                continue;
            }
        }
        try {
            DeliveryState st = spool_.state(message.queueId);
            st.nextAttempt = TimePoint{};
            spool_.saveState(message.queueId, st);
            std::lock_guard lock(mutex_);
            schedule_[message.queueId] = TimePoint{};
        } catch (const std::exception& e) {
            log_.warning("flush " + message.queueId + ": " + e.what());
        }
    }
    wake();
}

void QueueManager::rescan() {
    std::vector<std::pair<std::string, TimePoint>> found;
    std::vector<std::string> problems;
    for (const auto& message : spool_.list(&problems)) {
        found.emplace_back(message.queueId, spool_.state(message.queueId).nextAttempt);
    }
    std::lock_guard lock(mutex_);
    // A known message keeps its entry: the schedule was updated after the state file was
    // written, so it is never older than what the scan read.
    for (const auto& [id, at] : found) {
        schedule_.emplace(id, at);
    }
    lastRescan_ = std::chrono::steady_clock::now();
    rescanDue_ = false;
}

std::vector<std::string> QueueManager::claimDueLocked(TimePoint now) {
    std::vector<std::string> due;
    for (const auto& [id, at] : schedule_) {
        if (at <= now && inFlight_.insert(id).second) {
            due.push_back(id);
        }
    }
    return due;
}

void QueueManager::settled(const std::string& queueId, const Next& next) {
    std::lock_guard lock(mutex_);
    inFlight_.erase(queueId);
    switch (next.kind) {
        case Next::Kind::Gone:
            schedule_.erase(queueId);
            break;
        case Next::Kind::RetryAt:
            schedule_[queueId] = next.at;
            break;
        case Next::Kind::WaitForSlot:
            schedule_[queueId] = clock_.now() + kScanInterval;
            waitingForSlot_.insert(queueId);
            break;
    }
}

void QueueManager::runOnce() {
    rescan();
    std::vector<std::string> due;
    {
        std::lock_guard lock(mutex_);
        due = claimDueLocked(clock_.now());
    }
    for (const auto& id : due) {
        settled(id, process(id));
    }
}

void QueueManager::schedulerLoop() {
    const std::filesystem::path flushFile = spool_.directory() / kFlushRequest;
    while (true) {
        bool rescanNow = false;
        {
            std::unique_lock lock(mutex_);
            // Until the next retry is due, at most kScanInterval (the flush request file).
            auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kScanInterval);
            const TimePoint now = clock_.now();
            for (const auto& [id, at] : schedule_) {
                if (inFlight_.count(id) == 0) {
                    timeout =
                        std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(at - now),
                                   std::chrono::milliseconds(0), timeout);
                }
            }
            wake_.wait_for(lock, timeout, [this] { return stopping_ || wakeRequested_; });
            if (stopping_) {
                return;
            }
            wakeRequested_ = false;
            rescanNow =
                rescanDue_ || std::chrono::steady_clock::now() - lastRescan_ >= kRescanInterval;
        }
        try {
            if (::unlink(flushFile.c_str()) == 0) {
                log_.information("flush requested: every queued message is due now");
                flush();
            }
            if (rescanNow) {
                rescan();
            }
            if (connections_) {
                connections_->closeExpired();
            }
            {
                std::lock_guard lock(mutex_);
                if (running_) {
                    for (auto& id : claimDueLocked(clock_.now())) {
                        jobs_.push_back(std::move(id));
                    }
                }
            }
            jobsReady_.notify_all();
        } catch (const std::exception& e) {
            log_.error(std::string("queue scan failed: ") + e.what());
        }
    }
}

void QueueManager::workerLoop(int) {
    while (true) {
        std::string id;
        {
            std::unique_lock lock(mutex_);
            jobsReady_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (stopping_) {
                return;
            }
            id = std::move(jobs_.front());
            jobs_.pop_front();
        }
        settled(id, process(id));
    }
}

bool QueueManager::acquireDestination(const std::string& destination) {
    std::lock_guard lock(mutex_);
    int& n = perDestination_[destination];
    if (n >= settings_.maxPerDestination) {
        return false;
    }
    ++n;
    return true;
}

void QueueManager::releaseDestination(const std::string& destination) {
    bool waiting = false;
    {
        std::lock_guard lock(mutex_);
        if (--perDestination_[destination] <= 0) {
            perDestination_.erase(destination);
        }
        for (const auto& id : waitingForSlot_) {
            auto it = schedule_.find(id);
            if (it != schedule_.end()) {
                it->second = TimePoint{};
                waiting = true;
            }
        }
        waitingForSlot_.clear();
    }
    if (waiting) {
        wake();  // messages wait for a slot: do not leave them for the next scan
    }
}

void QueueManager::publish(TlsSessionEventKind kind, const SpooledMessage& message,
                           const std::string& reason, const DeliveryResult* result,
                           const std::string& rule) {
    TlsSessionEvent e;
    e.kind = kind;
    e.at = std::chrono::system_clock::now();
    e.sessionId = message.envelope.sessionId;
    e.direction = Direction::Outbound;
    e.queueId = message.queueId;
    e.sender = message.envelope.sender;
    e.recipientCount = static_cast<int>(message.envelope.recipients.size());
    e.messageSize = message.size;
    e.reason = reason;
    e.rule = rule;
    e.success = kind != TlsSessionEventKind::Deferred && kind != TlsSessionEventKind::Bounced &&
                kind != TlsSessionEventKind::HandshakeFailed &&
                kind != TlsSessionEventKind::PolicyDecision;
    if (result != nullptr) {
        e.peerName = result->tlsFacts.host;
        e.peerAddress = result->tlsFacts.address;
        e.peerPort = result->port;
        e.tls = result->tlsUsed;
        e.tlsVersion = result->tlsVersion;
        e.cipher = result->tlsCipher;
        if (result->serverCert) {
            e.peerCertSubject = result->serverCert->subject;
            e.peerCertIssuer = result->serverCert->issuer;
            e.peerCertSha256 = result->serverCert->sha256Fingerprint;
            e.peerCertSerial = result->serverCert->serial;
            e.peerCertVerified = result->tlsFacts.chainVerified && result->tlsFacts.nameMatched;
        }
    }
    bus_.publish(Event{std::move(e)});
}

QueueManager::Next QueueManager::process(const std::string& queueId) {
    try {
        const std::optional<SpooledMessage> message = spool_.message(queueId);
        if (!message) {
            return {};  // delivered or deleted meanwhile
        }
        DeliveryState st = spool_.state(queueId);
        const std::string content = spool_.content(queueId);
        const auto done = [&](const std::string& r) {
            return std::find(st.delivered.begin(), st.delivered.end(), r) != st.delivered.end() ||
                   std::any_of(st.failed.begin(), st.failed.end(),
                               [&](const auto& f) { return f.first == r; });
        };
        // Pending recipients grouped by domain, in envelope order.
        std::vector<std::pair<std::string, std::vector<std::string>>> groups;
        for (const auto& r : message->envelope.recipients) {
            if (done(r)) {
                continue;
            }
            const std::string domain = smtp::domainOf(r);
            auto it = std::find_if(groups.begin(), groups.end(),
                                   [&](const auto& g) { return g.first == domain; });
            if (it == groups.end()) {
                groups.push_back({domain, {r}});
            } else {
                it->second.push_back(r);
            }
        }
        std::string lastError;
        bool busy = false;
        bool policyDeferred = false;
        for (std::size_t g = 0; g < groups.size(); ++g) {
            const auto& [domain, recipients] = groups[g];
            const std::string destination = router_.destinationOf(domain);
            if (!acquireDestination(destination)) {
                busy = true;  // other workers are at the limit: soon, without counting an attempt
                continue;
            }
            const Resolution resolution = router_.resolve(domain);
            if (resolution.candidates.empty()) {
                releaseDestination(destination);
                lastError = resolution.error;
                if (resolution.permanent) {
                    for (const auto& r : recipients) {
                        st.failed.emplace_back(r, resolution.error);
                    }
                }
                continue;
            }
            const SendTlsLevel level = settings_.levelFor(domain, destination);
            DeliveryResult result;
            bool finished = false;
            for (const auto& candidate : resolution.candidates) {
                DeliveryRequest request;
                request.host = candidate.host;
                request.address = candidate.address;
                request.port = candidate.port;
                request.heloName = config_->gateway.hostname;
                request.level = level;
                request.tls = tls_.current();
                request.sender = message->envelope.sender;
                request.recipients = recipients;
                request.content = &content;
                request.size = content.size();
                request.eightBitMime = message->envelope.eightBitMime;
                request.connectTimeout = settings_.connectTimeout;
                request.commandTimeout = settings_.commandTimeout;
                request.cache = connections_.get();
                result = deliver(request);
                countAttempt(result);
                publishAttempt(*message, result);
                if (result.outcome == DeliveryOutcome::RetryPlain) {
                    log_.information("queue=" + queueId + " " + result.reason);
                    request.forcePlain = true;
                    result = deliver(request);
                    countAttempt(result);
                    publishAttempt(*message, result);
                }
                if (result.outcome == DeliveryOutcome::Deferred) {
                    lastError = result.reason;
                    policyDeferred = policyDeferred || result.policyDeferred;
                    log_.information("queue=" + queueId + " to=" + domain +
                                     " relay=" + candidate.host + "[" + candidate.address +
                                     "]:" + std::to_string(candidate.port) +
                                     " deferred: " + result.reason);
                    publish(TlsSessionEventKind::Deferred, *message, result.reason, &result,
                            result.policyDeferred ? "tls-policy" : "");
                    continue;  // next MX host
                }
                finished = true;
                break;
            }
            releaseDestination(destination);
            if (!finished) {
                continue;
            }
            for (const auto& rr : result.recipients) {
                if (rr.code >= 200 && rr.code < 300) {
                    st.delivered.push_back(rr.recipient);
                } else if (rr.code >= 500 ||
                           (result.outcome == DeliveryOutcome::Failed && rr.code == 0)) {
                    st.failed.emplace_back(rr.recipient,
                                           rr.reply.empty() ? result.reason : rr.reply);
                } else if (rr.code >= 400) {
                    lastError = rr.reply;
                }
            }
            if (result.outcome == DeliveryOutcome::Failed && result.recipients.empty()) {
                for (const auto& r : recipients) {
                    st.failed.emplace_back(r, result.reason);
                }
            }
            const std::string tlsNote =
                (result.tlsUsed ? " tls=" + result.tlsVersion + " cipher=" + result.tlsCipher
                                : std::string(" tls=none")) +
                (result.reused ? " connection=reused" : "");
            log_.information(
                "queue=" + queueId + " to=" + domain + " relay=" + result.tlsFacts.host + "[" +
                result.tlsFacts.address + "]:" + std::to_string(result.port) + " " +
                (result.outcome == DeliveryOutcome::Delivered ? "delivered" : "failed") + tlsNote +
                ": " + result.reason);
            if (result.outcome == DeliveryOutcome::Delivered) {
                count(&Counters::messagesDelivered);
                count(&Counters::bytesDelivered, content.size());
                publish(TlsSessionEventKind::Delivered, *message, result.reason, &result);
            }
            if (g + 1 < groups.size()) {
                // Delivered recipients are never sent again. After the last group the message
                // is removed or its state saved with the retry below: no write needed here.
                spool_.saveState(queueId, st);
            }
        }

        std::vector<std::string> pending;
        for (const auto& r : message->envelope.recipients) {
            if (!done(r)) {
                pending.push_back(r);
            }
        }
        const TimePoint now = clock_.now();
        if (!pending.empty() && now - message->envelope.received >= settings_.maxQueueLifetime) {
            for (const auto& r : pending) {
                st.failed.emplace_back(r,
                                       "4.4.7 message delayed for too long, last error: " +
                                           (lastError.empty() ? std::string("none") : lastError));
            }
            pending.clear();
        }
        if (pending.empty()) {
            if (!st.failed.empty()) {
                std::string reasons;
                for (const auto& [r, reply] : st.failed) {
                    reasons += (reasons.empty() ? "" : "; ") + r + ": " + reply;
                }
                count(&Counters::messagesBounced);
                publish(TlsSessionEventKind::Bounced, *message, reasons, nullptr);
                if (message->envelope.sender.empty()) {
                    log_.warning("queue=" + queueId + " bounce of a bounce dropped: " + reasons);
                } else {
                    Envelope dsnEnvelope;
                    dsnEnvelope.sender = "";
                    dsnEnvelope.recipients = {message->envelope.sender};
                    dsnEnvelope.sessionId = message->envelope.sessionId;
                    dsnEnvelope.clientAddress = "127.0.0.1";
                    dsnEnvelope.clientName = config_->gateway.hostname;
                    dsnEnvelope.received = std::chrono::system_clock::now();
                    auto writer = spool_.begin(dsnEnvelope);
                    writer.append(makeDsn(*config_, *message, content, st.failed, now));
                    const std::string dsnId = writer.commit();
                    queued(dsnId);
                    log_.information("queue=" + queueId + " bounced to <" +
                                     message->envelope.sender + "> dsn=" + dsnId + ": " + reasons);
                }
            }
            spool_.remove(queueId);
            log_.information("queue=" + queueId + " removed");
            return {};
        }
        if (busy && lastError.empty()) {
            return {Next::Kind::WaitForSlot, {}};  // no attempt made: not counted as one
        }
        st.attempts += 1;
        count(policyDeferred ? &Counters::messagesDeferredTlsPolicy
                             : &Counters::messagesDeferredOther);
        auto delay = settings_.retryMin;
        for (int i = 1; i < st.attempts && delay < settings_.retryMax; ++i) {
            delay *= 2;
        }
        delay = std::min(delay, settings_.retryMax);
        st.nextAttempt = now + delay;
        st.lastError = lastError;
        spool_.saveState(queueId, st);
        log_.information("queue=" + queueId + " deferred attempts=" + std::to_string(st.attempts) +
                         " next=" + certmgr::formatTime(st.nextAttempt) + " reason=" + lastError +
                         (policyDeferred ? " (TLS policy)" : ""));
        return {Next::Kind::RetryAt, st.nextAttempt};
    } catch (const std::exception& e) {
        log_.error("queue=" + queueId + " delivery pass failed: " + e.what());
    }
    return {Next::Kind::RetryAt, clock_.now() + settings_.retryMin};
}

}  // namespace tlsgate::gateway
