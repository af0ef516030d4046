package org.infantcry.demo;

import android.Manifest;
import android.app.Activity;
import android.app.NotificationManager;
import android.content.Intent;
import android.content.pm.PackageManager;
import android.net.Uri;
import android.os.Build;
import android.os.Bundle;
import android.provider.Settings;
import android.text.TextUtils;
import android.view.View;
import android.widget.Button;
import android.widget.ProgressBar;
import android.widget.TextView;
import java.util.ArrayList;
import java.util.List;
import org.infantcry.core.MonitorLoop;

/**
 * The monitor's screen: start/stop, a live cry-probability meter, the likely cause with its
 * confidence, and the event log. The listening itself happens in {@link MonitorService}.
 *
 * <p>Permissions: the microphone (required) and, on Android 13+, notifications (optional: without
 * them cries still show here, but raise no alert) are asked when the user taps Start, with an
 * explanation and a way to Settings when the microphone was refused for good.
 */
public final class MainActivity extends Activity implements MonitorBus.Listener {
    private static final int REQUEST_PERMISSIONS = 1;

    private TextView status;
    private ProgressBar meter;
    private TextView probability;
    private TextView cause;
    private TextView note;
    private TextView log;
    private Button start;
    private Button stop;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        status = findViewById(R.id.status);
        meter = findViewById(R.id.meter);
        probability = findViewById(R.id.probability);
        cause = findViewById(R.id.cause);
        note = findViewById(R.id.note);
        log = findViewById(R.id.log);
        start = findViewById(R.id.start);
        stop = findViewById(R.id.stop);
        start.setOnClickListener(v -> onStartClicked());
        stop.setOnClickListener(v -> MonitorService.stop(this));
    }

    @Override
    protected void onStart() {
        super.onStart();
        MonitorBus.INSTANCE.register(this); // replays the current state
    }

    @Override
    protected void onStop() {
        MonitorBus.INSTANCE.unregister(this);
        super.onStop();
    }

    // ------------------------------------------------------------------ permissions
    private void onStartClicked() {
        List<String> missing = new ArrayList<>();
        if (checkSelfPermission(Manifest.permission.RECORD_AUDIO) != PackageManager.PERMISSION_GRANTED) {
            missing.add(Manifest.permission.RECORD_AUDIO);
        }
        if (Build.VERSION.SDK_INT >= NewerApi.TIRAMISU
                && checkSelfPermission(NewerApi.POST_NOTIFICATIONS) != PackageManager.PERMISSION_GRANTED) {
            missing.add(NewerApi.POST_NOTIFICATIONS);
        }
        if (missing.isEmpty()) {
            startMonitoring();
        } else {
            if (shouldShowRequestPermissionRationale(Manifest.permission.RECORD_AUDIO)) {
                showNote(getString(R.string.mic_rationale), false);
            }
            requestPermissions(missing.toArray(new String[0]), REQUEST_PERMISSIONS);
        }
    }

    @Override
    public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] grantResults) {
        super.onRequestPermissionsResult(requestCode, permissions, grantResults);
        if (requestCode != REQUEST_PERMISSIONS) {
            return;
        }
        if (checkSelfPermission(Manifest.permission.RECORD_AUDIO) == PackageManager.PERMISSION_GRANTED) {
            startMonitoring();
        } else if (!shouldShowRequestPermissionRationale(Manifest.permission.RECORD_AUDIO)) {
            // Refused with "don't ask again" (or by policy): only Settings can change it now.
            showNote(getString(R.string.mic_denied_forever), true);
        } else {
            showNote(getString(R.string.mic_rationale), false);
        }
    }

    private void startMonitoring() {
        NotificationManager nm = getSystemService(NotificationManager.class);
        if (!nm.areNotificationsEnabled()) {
            showNote(getString(R.string.notifications_off), false);
        } else {
            note.setVisibility(View.GONE);
        }
        MonitorService.start(this);
    }

    private void showNote(String text, boolean linkToSettings) {
        note.setText(linkToSettings ? text + "\n" + getString(R.string.open_settings) + " ›" : text);
        note.setVisibility(View.VISIBLE);
        note.setOnClickListener(linkToSettings ? v -> openAppSettings() : null);
    }

    private void openAppSettings() {
        Intent intent = new Intent(Settings.ACTION_APPLICATION_DETAILS_SETTINGS,
                Uri.fromParts("package", getPackageName(), null));
        startActivity(intent);
    }

    // ------------------------------------------------------------------ MonitorBus.Listener
    @Override
    public void onStatus(MonitorBus.Status s) {
        switch (s.state) {
            case LOADING:
                status.setText(R.string.status_loading);
                break;
            case LISTENING:
                status.setText(getString(R.string.status_listening, s.detail));
                break;
            case ERROR:
                status.setText(getString(R.string.status_error, s.detail));
                break;
            case IDLE:
            default:
                status.setText(R.string.status_idle);
                break;
        }
        boolean busy = s.state == MonitorLoop.State.LOADING || s.state == MonitorLoop.State.LISTENING;
        start.setEnabled(!busy);
        stop.setEnabled(busy);
        if (s.state != MonitorLoop.State.LISTENING) {
            meter.setProgress(0);
            probability.setText(R.string.probability_none);
            cause.setText(R.string.cause_none);
        }
    }

    @Override
    public void onLevel(float p, String likelyCause, float confidence) {
        meter.setProgress(Math.round(p * 1000));
        probability.setText(getString(R.string.probability, Math.round(p * 100)));
        if (likelyCause == null) {
            cause.setText(R.string.cause_none);
        } else {
            cause.setText(getString(R.string.cause, likelyCause, Math.round(confidence * 100)));
        }
    }

    @Override
    public void onLog(List<String> lines) {
        if (lines.isEmpty()) {
            log.setText(R.string.no_events);
        } else {
            log.setText(TextUtils.join("\n", lines));
        }
    }
}
