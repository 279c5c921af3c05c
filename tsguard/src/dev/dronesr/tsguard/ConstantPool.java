package dev.dronesr.tsguard;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The one edit the agent makes to a class file: the name in a CONSTANT_Utf8 entry that is exactly
 * a class's internal name. Constant-pool entries are read in sequence and nothing later in a class
 * file holds a byte offset into the pool, so an entry may change length (JVMS 4.4).
 */
final class ConstantPool {
    private ConstantPool() {}

    private static final int UTF8 = 1, LONG = 5, DOUBLE = 6;
    /**
     * Fixed payload size of each other tag (JVMS 4.4, table 4.4-B); 0: no such tag. Integer, Float,
     * Fieldref, Methodref, InterfaceMethodref, NameAndType, Dynamic, InvokeDynamic 4; Long, Double 8;
     * MethodHandle 3; Class, String, MethodType, Module, Package 2.
     */
    private static final int[] PAYLOAD_BYTES = {0, 0, 0, 4, 4, 8, 8, 2, 2, 4, 4, 4, 4, 0, 0, 3, 2, 4, 4, 2, 2};

    /** {@code classFile} with the Utf8 entry equal to {@code from} replaced by {@code to}; exactly one must exist. */
    static byte[] renameClass(byte[] classFile, String from, String to) {
        try {
            DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(classFile));
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(classFile.length + to.length());
            DataOutputStream out = new DataOutputStream(bytes);
            int magic = in.readInt();
            if (magic != 0xCAFEBABE) {
                throw new IllegalArgumentException("not a class file");
            }
            out.writeInt(magic);
            out.writeInt(in.readInt()); // minor, major version
            int count = in.readUnsignedShort();
            out.writeShort(count);
            int replaced = 0;
            for (int index = 1; index < count; index++) {
                int tag = in.readUnsignedByte();
                out.writeByte(tag);
                if (tag == UTF8) {
                    String text = in.readUTF();
                    if (text.equals(from)) {
                        text = to;
                        replaced++;
                    }
                    out.writeUTF(text);
                    continue;
                }
                int size = tag < PAYLOAD_BYTES.length ? PAYLOAD_BYTES[tag] : 0;
                if (size == 0) {
                    throw new IllegalArgumentException("unknown constant-pool tag " + tag);
                }
                copy(in, out, size);
                if (tag == LONG || tag == DOUBLE) {
                    index++; // eight bytes and two pool slots
                }
            }
            if (replaced != 1) {
                throw new IllegalArgumentException(from + " named " + replaced + " times, expected once");
            }
            out.write(classFile, classFile.length - in.available(), in.available());
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void copy(DataInputStream in, DataOutputStream out, int length) throws IOException {
        byte[] buffer = new byte[length];
        in.readFully(buffer);
        out.write(buffer);
    }
}
