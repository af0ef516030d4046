package org.infantcry.demo;

import android.Manifest;
import android.app.Notification;
import android.app.NotificationChannel;
import android.app.NotificationManager;
import android.app.PendingIntent;
import android.app.Service;
import android.content.Context;
import android.content.Intent;
import android.content.pm.PackageManager;
import android.media.AudioFormat;
import android.media.AudioRecord;
import android.media.MediaRecorder;
import android.os.Build;
import android.os.IBinder;
import android.os.PowerManager;
import android.util.Log;
import java.text.DateFormat;
import java.util.Date;
import java.util.Locale;
import org.infantcry.core.CryEvent;
import org.infantcry.core.LoadedModel;
import org.infantcry.core.MonitorLoop;
import org.infantcry.core.WindowPrediction;

/**
 * Listens to the microphone in a foreground service (type microphone), so monitoring goes on with
 * the screen off, and raises a notification when a cry starts.
 *
 * <p>The audio thread is the core's {@link MonitorLoop} (tested on the JVM with fakes): it loads the
 * model ({@link OrtModelSession}), opens {@link AudioRecord} at the model's own sample rate (mono,
 * 16-bit PCM), feeds every buffer to the core's {@code CryMonitor}, and on stop flushes it, which
 * closes an open cry event. This class supplies the platform (ONNX Runtime, AudioRecord), shows
 * what the loop reports (MonitorBus, notifications) and holds the foreground service and wake lock.
 */
public final class MonitorService extends Service {
    private static final String TAG = "InfantCry";
    private static final String CHANNEL_STATUS = "monitor_status";
    private static final String CHANNEL_ALERTS = "cry_alerts";
    private static final int ONGOING_ID = 1;
    private static final long WAKE_LOCK_MAX_MS = 12L * 60 * 60 * 1000;

    private MonitorLoop loop;
    private PowerManager.WakeLock wakeLock;
    private int nextAlertId = 100;

    /** Starts monitoring (call from a visible activity: Android 12+ refuses background starts). */
    static void start(Context context) {
        Intent intent = new Intent(context, MonitorService.class);
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.O) {
            context.startForegroundService(intent);
        } else {
            context.startService(intent);
        }
    }

    static void stop(Context context) {
        context.stopService(new Intent(context, MonitorService.class));
    }

    @Override
    public int onStartCommand(Intent intent, int flags, int startId) {
        createChannels();
        // Must be called promptly after startForegroundService, before any slow work.
        Notification ongoing = ongoingNotification(getString(R.string.notif_listening));
        if (Build.VERSION.SDK_INT >= NewerApi.R) {
            startForeground(ONGOING_ID, ongoing, NewerApi.FOREGROUND_SERVICE_TYPE_MICROPHONE);
        } else {
            startForeground(ONGOING_ID, ongoing);
        }
        if (loop == null) {
            acquireWakeLock();
            loop = new MonitorLoop(new AndroidPlatform(), new LoopListener());
            loop.start();
        }
        // Not sticky: a restart by the system would come from the background, where Android 14
        // forbids starting a microphone service. The user starts monitoring again from the app.
        return START_NOT_STICKY;
    }

    @Override
    public void onDestroy() {
        MonitorLoop l = loop;
        loop = null;
        if (l != null) {
            l.requestStop();
            try {
                l.join(1000); // the loop sees the stop after its current short read (~0.1 s)
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        releaseWakeLock();
        super.onDestroy();
    }

    @Override
    public IBinder onBind(Intent intent) {
        return null;
    }

    // ------------------------------------------------------------------ the loop's platform and listener
    /** ONNX Runtime and AudioRecord for the core's {@link MonitorLoop}. */
    private final class AndroidPlatform implements MonitorLoop.Platform {
        @Override
        public LoadedModel loadModel() throws Exception {
            return OrtModelSession.fromAssets(getApplicationContext().getAssets());
        }

        @Override
        public MonitorLoop.Microphone openMicrophone(int sampleRate) {
            final AudioRecord record = openRecorder(sampleRate);
            record.startRecording();
            if (record.getRecordingState() != AudioRecord.RECORDSTATE_RECORDING) {
                record.release();
                throw new IllegalStateException("the microphone is in use by another app");
            }
            return new MonitorLoop.Microphone() {
                @Override
                public int read(short[] buffer, int offset, int length) {
                    return record.read(buffer, offset, length);
                }

                @Override
                public void close() {
                    if (record.getRecordingState() == AudioRecord.RECORDSTATE_RECORDING) {
                        record.stop();
                    }
                    record.release();
                }
            };
        }
    }

    /** Called on the loop's thread: the UI through MonitorBus, the notifications directly. */
    private final class LoopListener implements MonitorLoop.Listener {
        @Override
        public void onStatus(MonitorLoop.State state, String detail) {
            if (state == MonitorLoop.State.ERROR) {
                Log.e(TAG, "monitoring stopped: " + detail);
            }
            MonitorBus.INSTANCE.status(state, detail);
        }

        @Override
        public void onWindow(WindowPrediction p) {
            MonitorBus.INSTANCE.level(p.cryProbability, p.cause, p.topCauseProbability);
        }

        @Override
        public void onEvent(CryEvent e) {
            notifyEvent(e);
        }

        @Override
        public void onEndedByItself() {
            stopSelf();
        }
    }

    private AudioRecord openRecorder(int sampleRate) {
        if (checkSelfPermission(Manifest.permission.RECORD_AUDIO) != PackageManager.PERMISSION_GRANTED) {
            throw new IllegalStateException("microphone permission is not granted");
        }
        int channel = AudioFormat.CHANNEL_IN_MONO;
        int encoding = AudioFormat.ENCODING_PCM_16BIT;
        int minBytes = AudioRecord.getMinBufferSize(sampleRate, channel, encoding);
        if (minBytes <= 0) {
            throw new IllegalStateException(
                    "this device cannot record mono 16-bit audio at " + sampleRate + " Hz");
        }
        // One second of audio (or the device minimum): room for a slow model run without losing samples.
        int bytes = Math.max(minBytes, sampleRate * 2);
        // VOICE_RECOGNITION: no automatic gain control or noise suppression on most devices, so the
        // model hears the room much as in its training recordings.
        AudioRecord record =
                new AudioRecord(MediaRecorder.AudioSource.VOICE_RECOGNITION, sampleRate, channel, encoding, bytes);
        if (record.getState() != AudioRecord.STATE_INITIALIZED) {
            record.release();
            throw new IllegalStateException("could not open the microphone at " + sampleRate + " Hz");
        }
        return record;
    }

    private void notifyEvent(CryEvent e) {
        String clock = DateFormat.getTimeInstance(DateFormat.MEDIUM).format(new Date());
        String cause = e.cause == null ? "cause uncertain"
                : e.cause + " " + Math.round(e.causeConfidence() * 100) + "%";
        MonitorBus.INSTANCE.logLine(String.format(Locale.US, "%s  %-5s  t=%.1fs (+%.1fs)  p=%.2f  %s",
                clock, e.kind.wireName(), e.timeS, e.delayS, e.cryProbability, cause));
        NotificationManager nm = getSystemService(NotificationManager.class);
        if (e.kind == CryEvent.Kind.START) {
            nm.notify(ONGOING_ID, ongoingNotification(getString(R.string.notif_crying, clock)));
            nm.notify(nextAlertId++, alertNotification(e));
        } else {
            nm.notify(ONGOING_ID, ongoingNotification(getString(R.string.notif_listening)));
        }
    }

    // ------------------------------------------------------------------ notifications
    private void createChannels() {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.O) {
            return;
        }
        NotificationManager nm = getSystemService(NotificationManager.class);
        nm.createNotificationChannel(new NotificationChannel(
                CHANNEL_STATUS, getString(R.string.channel_status), NotificationManager.IMPORTANCE_LOW));
        nm.createNotificationChannel(new NotificationChannel(
                CHANNEL_ALERTS, getString(R.string.channel_alerts), NotificationManager.IMPORTANCE_HIGH));
    }

    @SuppressWarnings("deprecation") // Notification.Builder(Context): the pre-API-26 constructor
    private Notification.Builder builder(String channel) {
        Notification.Builder b = Build.VERSION.SDK_INT >= Build.VERSION_CODES.O
                ? new Notification.Builder(this, channel)
                : new Notification.Builder(this);
        Intent open = new Intent(this, MainActivity.class).setFlags(Intent.FLAG_ACTIVITY_SINGLE_TOP);
        PendingIntent tap = PendingIntent.getActivity(
                this, 0, open, PendingIntent.FLAG_IMMUTABLE | PendingIntent.FLAG_UPDATE_CURRENT);
        return b.setSmallIcon(R.drawable.ic_stat_cry).setContentIntent(tap);
    }

    @SuppressWarnings("deprecation") // setPriority: the pre-API-26 way; channels carry it after
    private Notification ongoingNotification(String text) {
        return builder(CHANNEL_STATUS)
                .setContentTitle(getString(R.string.app_name))
                .setContentText(text)
                .setOngoing(true)
                .setPriority(Notification.PRIORITY_LOW)
                .build();
    }

    @SuppressWarnings("deprecation")
    private Notification alertNotification(CryEvent e) {
        String text = e.cause == null ? getString(R.string.alert_text_plain)
                : getString(R.string.alert_text_cause, e.cause, Math.round(e.causeConfidence() * 100));
        return builder(CHANNEL_ALERTS)
                .setContentTitle(getString(R.string.alert_title))
                .setContentText(text)
                .setAutoCancel(true)
                .setCategory(Notification.CATEGORY_ALARM)
                .setPriority(Notification.PRIORITY_HIGH)
                .setDefaults(Notification.DEFAULT_ALL)
                .build();
    }

    // ------------------------------------------------------------------ wake lock
    private void acquireWakeLock() {
        PowerManager pm = (PowerManager) getSystemService(Context.POWER_SERVICE);
        wakeLock = pm.newWakeLock(PowerManager.PARTIAL_WAKE_LOCK, "InfantCry:monitor");
        wakeLock.setReferenceCounted(false);
        wakeLock.acquire(WAKE_LOCK_MAX_MS);
    }

    private void releaseWakeLock() {
        if (wakeLock != null && wakeLock.isHeld()) {
            wakeLock.release();
        }
        wakeLock = null;
    }
}
