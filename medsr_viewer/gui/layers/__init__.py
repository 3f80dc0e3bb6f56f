"""What is drawn over the images: label layers, ROIs and the tools that edit them."""
