"""Small helpers every layer uses: argument types and one-line errors, progress lines, TensorFlow set-up."""
