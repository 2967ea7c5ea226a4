"""Reading line images and their transcriptions, and turning them into model input."""
