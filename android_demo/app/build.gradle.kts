plugins {
    id("com.android.application")
}

android {
    namespace = "org.infantcry.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "org.infantcry.demo"
        minSdk = 24
        targetSdk = 34
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

dependencies {
    implementation(project(":core"))
    // Pinned to the onnxruntime version the toolchain uses to write the .ort model (1.26.0), so
    // the runtime reads the .ort format version it was written with.
    implementation("com.microsoft.onnxruntime:onnxruntime-android:1.26.0")
}

// The model is an asset copied by the toolchain (python -m export.golden --copy-model), never by
// hand: fail early, with the command to run, when it is missing.
val modelAssets = listOf("student_int8.ort", "student_int8.onnx").map { file("src/main/assets/$it") }
val checkModelAsset by tasks.registering {
    doLast {
        if (modelAssets.none { it.isFile }) {
            throw GradleException(
                "No model in app/src/main/assets (student_int8.ort or .onnx). From the repository " +
                    "root run: python -m export.golden --copy-model"
            )
        }
    }
}
tasks.named("preBuild") { dependsOn(checkModelAsset) }
